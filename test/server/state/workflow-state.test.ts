import t from 'tap';
import { CommandType, decodeCommand, encodeCommand, type Command } from '../../../server/state/commands.js';
import { defaultCatchUp, type DependencyEdge, type JobSpec } from '../../../server/state/job.js';
import { StateMachine, type ApplyResult } from '../../../server/state/state-machine.js';
import { planRun } from '../../../server/scheduler/workflow-unlocks.js';
import type { Run } from '../../../server/state/run.js';

function spec(name: string, over: Partial<JobSpec> = {}): JobSpec {
  return {
    name, displayName: '', timezone: '', schedule: '@manually', owner: '', ownerEmail: '', disabled: false,
    tags: {}, metadata: {}, retries: 0, parentJob: '', processors: {}, concurrency: 'allow', executor: 'shell',
    executorConfig: { command: 'true' }, ephemeral: false, startsAtMs: null, expiresAtMs: null, catchUp: defaultCatchUp, ...over,
  };
}
const task = (name: string, dependsOn: DependencyEdge[], over: Partial<JobSpec> = {}) => spec(name, { schedule: '', dependsOn, ...over });

class Harness {
  readonly sm = new StateMachine({ historyLimit: 5 });
  private index = 0;
  at = 1000;
  apply(c: Command): ApplyResult {
    return this.sm.apply(decodeCommand(encodeCommand(c)), ++this.index);
  }
  ok(c: Command): Extract<ApplyResult, { ok: true }> {
    const r = this.apply(c);
    if (!r.ok) throw r.error;
    return r;
  }
  put(...specs: JobSpec[]) {
    for (const s of specs) this.ok({ type: CommandType.PutJob, atMs: this.at, job: s });
  }
  /** Run the root; returns the run id. */
  runRoot(name: string, parameters?: Record<string, string>): string {
    const [e] = this.ok({ type: CommandType.RecordFires, atMs: ++this.at, fires: [{ jobName: name, scheduledAtMs: this.at, trigger: 'manual', nodes: ['n1'], runId: `run-${this.at}`, ...(parameters ? { parameters } : {}) }], skips: [], lastScheduled: [] }).executions;
    return e?.runId ?? '';
  }
  run(id: string): Run {
    const r = this.sm.run(id);
    if (!r) throw new Error(`no run ${id}`);
    return r;
  }
  /** What the leader does after each change: plan and commit. */
  advance(id: string): string[] {
    const plan = planRun(this.run(id));
    const res = this.ok({ type: CommandType.AdvanceRun, atMs: ++this.at, runId: id, start: plan.start, skip: plan.skip, ...(plan.finish ? { finish: plan.finish } : {}) });
    // Pending executions start on a node.
    if (res.executions.length > 0) this.ok({ type: CommandType.StartExecutions, atMs: ++this.at, starts: res.executions.map((e) => ({ id: e.id, nodeName: 'n1' })) });
    return res.executions.map((e) => e.jobName);
  }
  finishTask(id: string, job: string, state: 'succeeded' | 'failed' | 'stopped', output = '', exitCode = state === 'succeeded' ? 0 : 1, paramsOut?: Record<string, string>) {
    const eid = this.run(id).tasks.find((x) => x.job === job)?.executionId;
    if (!eid) throw new Error(`${job} has no execution`);
    return this.ok({ type: CommandType.FinishExecutions, atMs: ++this.at, results: [{ id: eid, finishedAtMs: this.at, state, output, outputTruncated: false, exitCode, error: state === 'succeeded' ? '' : 'exit status 1', ...(paramsOut ? { paramsOut } : {}) }] });
  }
  states(id: string): Record<string, string> {
    return Object.fromEntries(this.run(id).tasks.map((x) => [x.job, x.state]));
  }
}

t.test('validation: unknown upstream, self-edge, duplicate, bad regex, cycle named', async (t) => {
  const h = new Harness();
  h.put(spec('a'), task('b', [{ job: 'a', on: 'success' }]));
  const err = (s: JobSpec) => {
    const r = h.apply({ type: CommandType.PutJob, atMs: 1, job: s });
    return r.ok ? null : { code: r.error.code, field: r.error.field, message: r.error.message };
  };
  t.match(err(task('x', [{ job: 'ghost', on: 'success' }, { job: 'a', on: 'done' }])), { code: 'CT_STATE_INVALID_JOB', field: 'depends_on[0].job', message: /unknown upstream job ghost/ });
  t.match(err(task('x', [{ job: 'x', on: 'success' }])), { code: 'CT_STATE_INVALID_JOB', field: 'depends_on[0].job', message: /itself/ });
  t.match(err(task('x', [{ job: 'a', on: 'success' }, { job: 'a', on: 'failure' }])), { field: 'depends_on[1].job', message: /named twice/ });
  t.match(err(task('x', [{ job: 'a', on: 'success', outputMatches: '([' }])), { field: 'depends_on[0].output_matches', message: /not a valid regular expression/ });
  t.match(err(task('x', [{ job: 'a', on: 'sometimes' as 'done' }])), { field: 'depends_on[0].on' });
  t.match(err(spec('a', { dependsOn: [{ job: 'b', on: 'done' }], schedule: '' })), { code: 'CT_STATE_INVALID_JOB', field: 'depends_on', message: 'depends_on: the edges would make a cycle: a -> b -> a' });
  t.match(err(spec('a', { parentJob: 'b', schedule: '' })), { code: 'CT_STATE_PARENT_CYCLE', field: 'parent_job' }, 'parent_job keeps its Dkron answer');
  t.match(err(spec('y', { parentJob: 'nobody', schedule: '' })), { code: 'CT_STATE_PARENT_NOT_FOUND' });
  t.match(err(task('x', [{ job: 'a', on: 'success' }], { triggerRule: 'most' as 'any' })), { field: 'trigger_rule' });
  t.match(err(spec('x', { parameters: { 'bad-name': 'v' } })), { field: 'parameters.bad-name' });
  t.match(err(spec('x', { schedule: '' })), { field: 'schedule' });
  const del = h.apply({ type: CommandType.DeleteJob, atMs: 1, name: 'a' });
  t.equal(!del.ok && del.error.code, 'CT_STATE_HAS_DEPENDENTS', 'deleting an upstream is refused');
});

t.test('parent_job is one success edge; dependents follow every edge', async (t) => {
  const h = new Harness();
  h.put(spec('a'), spec('b'), spec('child', { parentJob: 'a', schedule: '' }));
  t.same(h.sm.job('child')?.dependsOn, [{ job: 'a', on: 'success' }]);
  t.equal(h.sm.job('child')?.parentJob, 'a');
  h.put(task('child', [{ job: 'a', on: 'success' }, { job: 'b', on: 'failure' }]));
  t.equal(h.sm.job('child')?.parentJob, '', 'no longer a single plain edge');
  t.same(h.sm.job('a')?.dependentJobs, ['child']);
  t.same(h.sm.job('b')?.dependentJobs, ['child']);
  h.put(task('child', [{ job: 'b', on: 'done' }]));
  t.same(h.sm.job('a')?.dependentJobs, [], 'an edge removed leaves its upstream');
  h.ok({ type: CommandType.DeleteJob, atMs: 1, name: 'child' });
  t.same(h.sm.job('b')?.dependentJobs, []);
});

t.test('a diamond runs D once, after both; the run succeeds', async (t) => {
  const h = new Harness();
  h.put(spec('a'), task('b', [{ job: 'a', on: 'success' }]), task('c', [{ job: 'a', on: 'success' }]), task('d', [{ job: 'b', on: 'success' }, { job: 'c', on: 'success' }]));
  const id = h.runRoot('a', { who: 'me' });
  t.same(h.run(id).tasks.map((x) => x.job), ['a', 'b', 'c', 'd'], 'upstreams first');
  t.same(h.run(id).parameters, { who: 'me' });
  t.same(h.advance(id), [], 'nothing while the root runs');
  h.finishTask(id, 'a', 'succeeded');
  t.same(h.advance(id), ['b', 'c']);
  t.same(h.advance(id), [], 'a second decision starts nothing twice');
  h.finishTask(id, 'b', 'succeeded');
  t.same(h.advance(id), []);
  h.finishTask(id, 'c', 'succeeded');
  // A stale AdvanceRun (the same decision again) changes nothing.
  const plan = planRun(h.run(id));
  t.same(h.advance(id), ['d']);
  t.same(h.ok({ type: CommandType.AdvanceRun, atMs: ++h.at, runId: id, start: plan.start, skip: plan.skip }).executions, [], 'once per run');
  h.finishTask(id, 'd', 'succeeded');
  h.advance(id);
  t.match(h.run(id), { state: 'succeeded', finishedAtMs: Number });
  const ds = h.sm.executionsOf('d') ?? [];
  t.equal(ds.length, 1, 'd ran once');
  t.equal(ds[0]?.runId, id, 'every execution carries its run');
});

t.test('retries stay in the task; a failure branch; skip reasons', async (t) => {
  const h = new Harness();
  h.put(spec('a'), task('b', [{ job: 'a', on: 'success' }], { retries: 1 }), task('ok', [{ job: 'b', on: 'success' }]), task('onfail', [{ job: 'b', on: 'failure' }]));
  const id = h.runRoot('a');
  h.finishTask(id, 'a', 'succeeded');
  h.advance(id);
  const first = h.run(id).tasks.find((x) => x.job === 'b')?.executionId;
  h.finishTask(id, 'b', 'failed');
  t.match(h.run(id).tasks.find((x) => x.job === 'b'), { state: 'pending', attempt: 2 }, 'a retry keeps the task going');
  t.not(h.run(id).tasks.find((x) => x.job === 'b')?.executionId, first);
  const retry = h.run(id).tasks.find((x) => x.job === 'b')?.executionId ?? '';
  h.ok({ type: CommandType.StartExecutions, atMs: ++h.at, starts: [{ id: retry, nodeName: 'n1' }] });
  h.finishTask(id, 'b', 'failed');
  t.same(h.advance(id), ['onfail']);
  t.match(h.run(id).tasks.find((x) => x.job === 'ok'), { state: 'skipped', reason: 'b failed and the edge wants success' });
  h.finishTask(id, 'onfail', 'succeeded');
  h.advance(id);
  t.equal(h.run(id).state, 'succeeded', 'the failure branch took the failure');
});

t.test('stop, restart and snapshots', async (t) => {
  const h = new Harness();
  h.put(spec('a'), task('b', [{ job: 'a', on: 'success' }]), task('c', [{ job: 'b', on: 'success', outputMatches: 'go' }]));
  const id = h.runRoot('a');
  h.finishTask(id, 'a', 'succeeded', '', 0, { k: 'v' });
  h.advance(id);
  t.equal(h.run(id).tasks[0]?.paramsOut['k'], 'v');
  const stop = h.ok({ type: CommandType.StopRun, atMs: ++h.at, runId: id });
  t.same(stop.executions, [], 'b was already running: the leader stops it');
  t.same(h.states(id), { a: 'succeeded', b: 'running', c: 'stopped' });
  t.equal(h.run(id).state, 'stopped');
  const again = h.apply({ type: CommandType.StopRun, atMs: ++h.at, runId: id });
  t.equal(!again.ok && again.error.code, 'CT_STATE_RUN_FINISHED');
  h.finishTask(id, 'b', 'stopped');
  t.same(h.states(id), { a: 'succeeded', b: 'stopped', c: 'stopped' });
  t.same(planRun(h.run(id)).start, [], 'a stopped run plans nothing');
  // Snapshots keep runs.
  const copy = new StateMachine({ historyLimit: 5 });
  copy.restore(h.sm.snapshot());
  t.same(copy.run(id), h.run(id));
  h.ok({ type: CommandType.RestartRun, atMs: ++h.at, runId: id });
  t.same(h.states(id), { a: 'succeeded', b: 'waiting', c: 'waiting' }, 'succeeded tasks are kept');
  const busy = h.apply({ type: CommandType.RestartRun, atMs: ++h.at, runId: id });
  t.equal(!busy.ok && busy.error.code, 'CT_STATE_RUN_NOT_FINISHED');
  t.same(h.advance(id), ['b']);
  h.finishTask(id, 'b', 'succeeded', 'we go\n');
  t.same(h.advance(id), ['c'], 'output kept for the edge that matches on it');
  h.finishTask(id, 'c', 'succeeded');
  h.advance(id);
  t.equal(h.run(id).state, 'succeeded');
  t.equal((h.sm.executionsOf('a') ?? []).length, 1, 'the root ran once');
  const missing = h.apply({ type: CommandType.StopRun, atMs: 1, runId: 'nope' });
  t.equal(!missing.ok && missing.error.code, 'CT_STATE_RUN_NOT_FOUND');
});

t.test('not_before and failures decided by the leader', async (t) => {
  const h = new Harness();
  h.put(spec('a'), task('later', [{ job: 'a', on: 'success' }], { notBefore: '{{ .Params.at }}' }), task('broken', [{ job: 'a', on: 'success' }]));
  const id = h.runRoot('a');
  h.finishTask(id, 'a', 'succeeded');
  const res = h.ok({ type: CommandType.AdvanceRun, atMs: 5000, runId: id, start: ['later'], skip: [], notBefore: { later: 90_000 }, fail: [{ job: 'broken', reason: 'not_before: no time' }] });
  t.equal(res.executions[0]?.notBeforeMs, 90_000, 'the task waits for its time');
  t.match(h.run(id).tasks.find((x) => x.job === 'broken'), { state: 'failed', reason: 'not_before: no time' });
  t.equal(h.sm.job('later')?.notBefore, '{{ .Params.at }}');
});

t.test('a job without downstream starts no run; its parameters ride on the execution', async (t) => {
  const h = new Harness();
  h.put(spec('solo', { parameters: { a: '1' } }));
  const [e] = h.ok({ type: CommandType.RecordFires, atMs: 5, fires: [{ jobName: 'solo', scheduledAtMs: 5, trigger: 'manual', nodes: ['n1'], parameters: { b: '2' } }], skips: [], lastScheduled: [] }).executions;
  t.equal(e?.runId, undefined);
  t.same(e?.parameters, { a: '1', b: '2' });
  t.same([...h.sm.runs()], []);
});

t.test('finished runs beyond the history limit go, oldest first, per root; a running one stays; the same after a restore', async (t) => {
  const h = new Harness();
  h.put(spec('r1'), task('r1-b', [{ job: 'r1', on: 'success' }]), spec('r2'), task('r2-b', [{ job: 'r2', on: 'success' }]));
  const finish = (id: string, root: string) => {
    h.finishTask(id, root, 'succeeded');
    h.advance(id);
    h.finishTask(id, `${root}-b`, 'succeeded');
    h.advance(id);
  };
  const stillRunning = h.runRoot('r1');
  const r1: string[] = [];
  for (let i = 0; i < 7; i++) {
    const id = h.runRoot('r1');
    finish(id, 'r1');
    r1.push(id);
  }
  const r2 = h.runRoot('r2');
  finish(r2, 'r2');
  const ids = (root: string) => [...h.sm.runs()].filter((r) => r.rootJob === root).map((r) => r.id);
  // History limit 5: the running one and the four newest finished ones of r1; r2's own run untouched.
  t.same(ids('r1'), [stillRunning, ...r1.slice(3)]);
  t.same(ids('r2'), [r2]);
  const copy = new StateMachine({ historyLimit: 5 });
  copy.restore(h.sm.snapshot());
  t.same([...copy.runs()].map((r) => r.id), [...h.sm.runs()].map((r) => r.id), 'restored: the same runs in the same order');
});
