import t from 'tap';
import { CommandType, type Command, decodeCommand, encodeCommand, frame } from '../../../server/state/commands.js';
import type { JobSpec } from '../../../server/state/job.js';
import { jobSpec } from '../../support/job-spec.js';
import { StateInvariantError } from '../../../server/state/state-error.js';
import { StateMachine, retryBackoffMs, type ApplyResult } from '../../../server/state/state-machine.js';
import { planRun } from '../../../server/scheduler/workflow-unlocks.js';

const spec = jobSpec;

class Harness {
  readonly sm = new StateMachine({ historyLimit: 5 });
  private index = 0;
  apply(c: Command): ApplyResult {
    // Every command goes through the wire encoding, as it does in the log.
    return this.sm.apply(decodeCommand(encodeCommand(c)), ++this.index);
  }
  ok(c: Command): Extract<ApplyResult, { ok: true }> {
    const r = this.apply(c);
    if (!r.ok) throw r.error;
    return r;
  }
  put(s: JobSpec, atMs = 1000) {
    return this.ok({ type: CommandType.PutJob, atMs, job: s });
  }
  fire(name: string, scheduledAtMs: number, trigger: 'schedule' | 'manual' = 'schedule') {
    return this.ok({
      type: CommandType.RecordFires, atMs: scheduledAtMs + 1,
      fires: [{ jobName: name, scheduledAtMs, trigger, nodes: ['n1'] }], skips: [],
      lastScheduled: trigger === 'schedule' ? [{ jobName: name, atMs: scheduledAtMs }] : [],
    });
  }
  finish(id: string, state: 'succeeded' | 'failed' | 'stopped' | 'lost', atMs = 5000) {
    return this.ok({
      type: CommandType.FinishExecutions, atMs,
      results: [{ id, finishedAtMs: atMs, state, output: `out ${id}`, outputTruncated: false, exitCode: state === 'succeeded' ? 0 : 1, error: '' }],
    });
  }
}

t.test('put, get and upsert keep computed fields', async (t) => {
  const h = new Harness();
  h.put(spec('a'), 1000);
  const [e] = h.fire('a', 2000).executions;
  h.finish(e!.id, 'succeeded', 2500);
  h.put(spec('a', { displayName: 'A' }), 3000);
  const job = h.sm.job('a')!;
  t.equal(job.displayName, 'A');
  t.equal(job.successCount, 1, 'counters survive an update');
  t.equal(job.lastSuccessMs, 2500);
  t.equal(job.status, 'success');
  t.equal(job.createdAtMs, 1000);
  t.equal(job.lastScheduledMs, 2000, 'bookkeeping kept when the schedule is unchanged');
  h.put(spec('a', { schedule: '@every 5s' }), 4000);
  t.equal(h.sm.job('a')!.anchorMs, 4000, 'a new schedule re-anchors @every');
  t.equal(h.sm.job('a')!.lastScheduledMs, 4000, 'and starts its bookkeeping afresh');
});

t.test('a schedule edit or a re-enable never moves the bookmark backwards', async (t) => {
  const h = new Harness();
  h.put(spec('a'), 1000);
  h.fire('a', 10_000);
  // A new leader whose clock is behind (atMs 5000) edits the schedule...
  h.put(spec('a', { schedule: '@every 2s' }), 5000);
  t.equal(h.sm.job('a')!.lastScheduledMs, 10_000, 'schedule change keeps the fired second settled');
  t.equal(h.sm.job('a')!.anchorMs, 5000, 'the new schedule is still anchored at the edit');
  h.put(spec('a', { schedule: '@every 2s', timezone: 'Europe/Berlin' }), 6000);
  t.equal(h.sm.job('a')!.lastScheduledMs, 10_000, 'zone change too');
  // ...and disables, then re-enables it.
  h.put(spec('a', { schedule: '@every 2s', timezone: 'Europe/Berlin', disabled: true }), 7000);
  h.put(spec('a', { schedule: '@every 2s', timezone: 'Europe/Berlin' }), 8000);
  t.equal(h.sm.job('a')!.lastScheduledMs, 10_000, 're-enable too');
  // A clock ahead of the bookmark still moves it forward, as before.
  h.put(spec('a', { schedule: '@every 3s' }), 20_000);
  t.equal(h.sm.job('a')!.lastScheduledMs, 20_000);
});

t.test('a fire planned for a schedule the job no longer has does not apply for that job', async (t) => {
  const h = new Harness();
  h.put(spec('a', { schedule: '*/2 * * * * *' }), 1000);
  h.put(spec('b'), 1000);
  const planned = h.sm.job('a')!;
  // The leader plans a's fire at 4000 and b's at 2000 with a's schedule as it is...
  const fires = {
    type: CommandType.RecordFires, atMs: 4100,
    fires: [{ jobName: 'a', scheduledAtMs: 4000, trigger: 'schedule', nodes: ['n'] }, { jobName: 'b', scheduledAtMs: 2000, trigger: 'schedule', nodes: ['n'] }],
    skips: [{ jobName: 'a', firstMs: 2000, lastMs: 2000, count: 1, reason: 'superseded' }],
    lastScheduled: [
      { jobName: 'a', atMs: 4000, planned: { schedule: planned.schedule, timezone: planned.timezone, anchorMs: planned.anchorMs } },
      { jobName: 'b', atMs: 2000, planned: { schedule: '@every 1s', timezone: '', anchorMs: 1000 } },
    ],
  } as const;
  // ...but an edit to every second commits first (at 3000): 3000 is now a scheduled second of a.
  h.put(spec('a', { schedule: '* * * * * *' }), 3000);
  const r = h.ok(fires);
  t.same(r.executions.map((e) => e.jobName), ['b'], 'only the job whose schedule is unchanged fires');
  t.equal(h.sm.job('a')!.lastScheduledMs, 3000, "a's bookmark stays where the edit put it: 4000 is planned again under the new schedule");
  t.same(r.skips, [], 'and nothing is recorded skipped for it');
  t.equal(h.sm.skipsOf('a')?.length, 0);
  t.equal(h.sm.job('b')!.lastScheduledMs, 2000);
  // A command without `planned` (written by an older server) applies as before.
  h.ok({ type: CommandType.RecordFires, atMs: 5100, fires: [{ jobName: 'a', scheduledAtMs: 5000, trigger: 'schedule', nodes: ['n'] }], skips: [], lastScheduled: [{ jobName: 'a', atMs: 5000 }] });
  t.equal(h.sm.job('a')!.lastScheduledMs, 5000);
});

t.test('parents and dependents', async (t) => {
  const h = new Harness();
  const missing = h.apply({ type: CommandType.PutJob, atMs: 1, job: spec('child', { parentJob: 'nope', schedule: '' }) });
  t.equal(!missing.ok && missing.error.code, 'CT_STATE_PARENT_NOT_FOUND');
  h.put(spec('p'));
  h.put(spec('q'));
  h.put(spec('c', { parentJob: 'p', schedule: '' }));
  t.same(h.sm.job('p')!.dependentJobs, ['c']);
  h.put(spec('c', { parentJob: 'q', schedule: '' }));
  t.same(h.sm.job('p')!.dependentJobs, [], 'moved away from the old parent');
  t.same(h.sm.job('q')!.dependentJobs, ['c']);
  const cycle = h.apply({ type: CommandType.PutJob, atMs: 1, job: spec('q', { parentJob: 'c' }) });
  t.equal(!cycle.ok && cycle.error.code, 'CT_STATE_PARENT_CYCLE');
  const del = h.apply({ type: CommandType.DeleteJob, atMs: 1, name: 'q' });
  t.equal(!del.ok && del.error.code, 'CT_STATE_HAS_DEPENDENTS');
  t.ok(h.sm.job('q'), 'nothing deleted');
  h.ok({ type: CommandType.DeleteJob, atMs: 1, name: 'c' });
  t.same(h.sm.job('q')!.dependentJobs, [], 'deleting a child updates its parent');
  h.ok({ type: CommandType.DeleteJob, atMs: 1, name: 'q' });
  t.notOk(h.sm.job('q'));
});

t.test('invalid jobs are refused by apply too', async (t) => {
  const h = new Harness();
  const r = h.apply({ type: CommandType.PutJob, atMs: 1, job: spec('Bad Name') });
  t.equal(!r.ok && r.error.code, 'CT_STATE_INVALID_JOB');
  t.equal(!r.ok && r.error.field, 'name');
  t.equal(h.sm.jobCount, 0);
});

t.test('a result applied twice changes nothing', async (t) => {
  const h = new Harness();
  h.put(spec('a'));
  const [e] = h.fire('a', 2000).executions;
  h.finish(e!.id, 'failed');
  h.finish(e!.id, 'succeeded');
  const job = h.sm.job('a')!;
  t.equal(job.errorCount, 1);
  t.equal(job.successCount, 0);
  t.equal(h.sm.execution(e!.id)!.state, 'failed');
});

t.test('retries are pending with a backoff, same group, next attempt', async (t) => {
  const h = new Harness();
  h.put(spec('a', { retries: 2 }));
  const [e1] = h.fire('a', 2000).executions;
  const [e2] = h.finish(e1!.id, 'failed', 3000).executions;
  t.equal(e2!.state, 'pending');
  t.equal(e2!.attempt, 2);
  t.equal(e2!.group, e1!.group);
  t.equal(e2!.notBeforeMs, 3000 + retryBackoffMs(1));
  const started = h.ok({ type: CommandType.StartExecutions, atMs: 4000, starts: [{ id: e2!.id, nodeName: 'n2' }] }).executions;
  t.equal(started[0]?.state, 'running');
  t.equal(started[0]?.nodeName, 'n2');
  const again = h.ok({ type: CommandType.StartExecutions, atMs: 4001, starts: [{ id: e2!.id, nodeName: 'n3' }] }).executions;
  t.same(again, [], 'starting twice changes nothing');
  const [e3] = h.finish(e2!.id, 'failed', 5000).executions;
  t.equal(e3!.attempt, 3);
  h.ok({ type: CommandType.StartExecutions, atMs: 9000, starts: [{ id: e3!.id, nodeName: 'n1' }] });
  const last = h.finish(e3!.id, 'failed', 9500).executions;
  t.same(last, [], 'no attempt beyond retries + 1');
  t.equal(h.sm.job('a')!.status, 'failed');
  t.equal(h.sm.job('a')!.errorCount, 3);
});

t.test('a stopped execution is not retried', async (t) => {
  const h = new Harness();
  h.put(spec('a', { retries: 3 }));
  const [e] = h.fire('a', 2000).executions;
  t.same(h.finish(e!.id, 'stopped').executions, []);
});

t.test('a success runs the children; a disabled child is skipped', async (t) => {
  const h = new Harness();
  h.put(spec('p'));
  h.put(spec('c1', { parentJob: 'p', schedule: '' }));
  h.put(spec('c2', { parentJob: 'p', schedule: '', disabled: true }));
  const [e] = h.fire('p', 2000).executions;
  t.ok(e!.runId, 'a root with children starts a run');
  t.same(h.finish(e!.id, 'succeeded', 3000).executions, [], 'the leader decides what a result unlocks');
  const plan = planRun(h.sm.run(e!.runId!)!);
  const created = h.ok({ type: CommandType.AdvanceRun, atMs: 3001, runId: e!.runId!, start: plan.start, skip: plan.skip }).executions;
  t.same(created.map((x) => [x.jobName, x.trigger, x.state, x.runId]), [['c1', 'parent', 'pending', e!.runId]]);
  t.match(h.sm.run(e!.runId!)!.tasks.find((x) => x.job === 'c2'), { state: 'skipped', reason: 'the job is disabled' });
  const [f] = h.fire('p', 4000).executions;
  t.same(h.finish(f!.id, 'failed', 4500).executions, [], 'a failure runs no child');
  t.same(planRun(h.sm.run(f!.runId!)!).start, [], 'and the planner starts none');
});

t.test('ephemeral jobs are deleted after a successful run', async (t) => {
  const h = new Harness();
  h.put(spec('once', { ephemeral: true, retries: 1 }));
  const [e] = h.fire('once', 2000).executions;
  const [retry] = h.finish(e!.id, 'failed').executions;
  t.ok(h.sm.job('once'), 'still there after a failure');
  h.ok({ type: CommandType.StartExecutions, atMs: 7000, starts: [{ id: retry!.id, nodeName: 'n1' }] });
  h.finish(retry!.id, 'succeeded', 8000);
  t.notOk(h.sm.job('once'));
  t.notOk(h.sm.execution(e!.id), 'its executions went with it');
});

t.test('forbid: a fire while running is skipped and recorded; a manual run is refused whole', async (t) => {
  const h = new Harness();
  h.put(spec('f', { concurrency: 'forbid' }));
  const [e] = h.fire('f', 2000).executions;
  const second = h.fire('f', 3000);
  t.same(second.executions, []);
  t.equal(second.skips[0]?.reason, 'forbid_running');
  t.equal(h.sm.job('f')!.lastScheduledMs, 3000, 'the skipped time is settled');
  const skipsBefore = h.sm.skipsOf('f')!.length;
  const manual = h.apply({
    type: CommandType.RecordFires, atMs: 3500, fires: [{ jobName: 'f', scheduledAtMs: 3500, trigger: 'manual', nodes: ['n1'] }], skips: [], lastScheduled: [],
  });
  t.equal(!manual.ok && manual.error.code, 'CT_STATE_FORBID_RUNNING');
  t.equal(h.sm.skipsOf('f')!.length, skipsBefore, 'a refused command leaves no trace');
  h.finish(e!.id, 'succeeded');
  t.equal(h.fire('f', 4000).executions.length, 1, 'runs again once the previous run ended');
});

t.test('history keeps the newest executions, never an active one', async (t) => {
  const h = new Harness();
  h.put(spec('a'));
  const ids: string[] = [];
  for (let i = 0; i < 8; i++) {
    const [e] = h.fire('a', 2000 + i * 1000).executions;
    ids.push(e!.id);
    if (i !== 0) h.finish(e!.id, 'succeeded', 2500 + i * 1000);
  }
  const kept = h.sm.executionsOf('a')!.map((e) => e.id);
  t.equal(kept.length, 5);
  t.ok(kept.includes(ids[0]!), 'the running one stays');
  t.same(kept.slice(1), ids.slice(4), 'the newest finished ones stay');
  t.notOk(h.sm.execution(ids[1]!), 'dropped ones are gone from the index too');
});

t.test('toggle: re-enabling starts the bookkeeping at the toggle time', async (t) => {
  const h = new Harness();
  h.put(spec('a'), 1000);
  h.ok({ type: CommandType.ToggleJob, atMs: 2000, name: 'a' });
  t.equal(h.sm.job('a')!.disabled, true);
  h.ok({ type: CommandType.ToggleJob, atMs: 90_000, name: 'a' });
  t.equal(h.sm.job('a')!.disabled, false);
  t.equal(h.sm.job('a')!.lastScheduledMs, 90_000, 'time spent disabled is not missed');
});

t.test('delete executions resets counters and keeps running ones', async (t) => {
  const h = new Harness();
  h.put(spec('a'));
  const [e1] = h.fire('a', 2000).executions;
  h.finish(e1!.id, 'succeeded');
  const [e2] = h.fire('a', 3000).executions;
  const r = h.ok({ type: CommandType.DeleteExecutions, atMs: 6000, name: 'a' });
  t.equal(r.job?.successCount, 0);
  t.same(h.sm.executionsOf('a')!.map((e) => e.id), [e2!.id]);
});

t.test('restore from a snapshot gives the same state', async (t) => {
  const h = new Harness();
  h.put(spec('p'));
  h.put(spec('c', { parentJob: 'p', schedule: '' }));
  const [e] = h.fire('p', 2000).executions;
  h.finish(e!.id, 'succeeded');
  h.fire('p', 3000);
  const copy = new StateMachine({ historyLimit: 5 });
  copy.restore(h.sm.snapshot());
  t.same([...copy.jobs()], [...h.sm.jobs()]);
  t.same(copy.activeExecutions(), h.sm.activeExecutions());
  t.equal(copy.activeCount('p'), 1);
  t.equal(copy.lastApplied, h.sm.lastApplied);
  // Both go on identically: ids come from the restored counter.
  const next = { type: CommandType.RecordFires, atMs: 9, fires: [{ jobName: 'c', scheduledAtMs: 9, trigger: 'manual' as const, nodes: ['n'] }], skips: [], lastScheduled: [] };
  t.same(copy.apply(next, copy.lastApplied + 1), h.apply(next));
});

t.test('unknown command types and out-of-order indexes stop the node', async (t) => {
  const sm = new StateMachine();
  t.throws(() => sm.apply({ type: 99 } as unknown as Command, 1), StateInvariantError);
  t.throws(() => sm.apply({ type: CommandType.DeleteJob, atMs: 1, name: 'x' }, 1), StateInvariantError);
});

t.test('a snapshot stores output raw: NULs cost a byte each, and it restores byte for byte (the JSON form too)', async (t) => {
  const h = new Harness();
  h.put(spec('n'));
  const outputs = ['\u0000'.repeat(100_000), '\ufeffBOM first', 'ünï 😀\n'];
  for (const [i, output] of outputs.entries()) {
    const [e] = h.fire('n', 2000 + i * 1000).executions;
    h.ok({ type: CommandType.FinishExecutions, atMs: 9000, results: [{ id: e!.id, finishedAtMs: 9000, state: 'succeeded', output, outputTruncated: false, exitCode: 0, error: '' }] });
  }
  const snap = h.sm.snapshot();
  t.ok(snap.length < 100_000 + 4000, `100,000 NULs make a snapshot of ${snap.length} bytes, not 600,000`);
  const copy = new StateMachine({ historyLimit: 5 });
  copy.restore(snap);
  t.same(copy.executionsOf('n')?.map((e) => e.output), outputs);
  t.same([...copy.jobs()], [...h.sm.jobs()]);
  // A snapshot written before the framed form: JSON, v1.
  const v1 = new TextEncoder().encode(JSON.stringify({
    v: 1, nextSeq: 4, appliedIndex: h.sm.lastApplied,
    jobs: [{ job: h.sm.job('n'), executions: h.sm.executionsOf('n'), skips: h.sm.skipsOf('n') }],
  }));
  const old = new StateMachine({ historyLimit: 5 });
  old.restore(v1);
  t.same(old.executionsOf('n')?.map((e) => e.output), outputs);
});

t.test('a FinishExecutions entry stores output raw', async (t) => {
  const c: Command = { type: CommandType.FinishExecutions, atMs: 1, results: [{ id: '1', finishedAtMs: 1, state: 'succeeded', output: '\u0000'.repeat(256_000), outputTruncated: true, exitCode: 0, error: '' }] };
  const bytes = encodeCommand(c);
  t.ok(bytes.length < 256_000 + 300, `256,000 NULs make an entry of ${bytes.length} bytes`);
  t.same(decodeCommand(bytes), c);
  t.throws(() => decodeCommand(bytes.subarray(0, 1000)), /does not fit/, 'a cut entry is an error, not a shorter output');
});

t.test('a result\'s error code: through the codec onto the execution and a snapshot; an entry from before codes has none; a retry starts without it', async (t) => {
  const coded: Command = { type: CommandType.FinishExecutions, atMs: 1, results: [{ id: '1', finishedAtMs: 1, state: 'failed', output: 'x', outputTruncated: false, exitCode: -1, error: 'plugin died', errorCode: 'CT_EXEC_PLUGIN_CRASHED' }] };
  t.same(decodeCommand(encodeCommand(coded)), coded, 'the field round-trips');
  // What an older server wrote: the same framed form, its head without errorCode.
  const old = frame(0x01, { type: CommandType.FinishExecutions, atMs: 1, results: [{ id: '1', finishedAtMs: 1, state: 'failed', output: 1, outputTruncated: false, exitCode: 1, error: 'exit status 1' }] }, [new TextEncoder().encode('y')]);
  const decoded = decodeCommand(old);
  t.same(decoded, { type: CommandType.FinishExecutions, atMs: 1, results: [{ id: '1', finishedAtMs: 1, state: 'failed', output: 'y', outputTruncated: false, exitCode: 1, error: 'exit status 1' }] });
  t.notOk('errorCode' in ((decoded as { results: object[] }).results[0] ?? {}), 'no code, rather than an invented one');

  const h = new Harness();
  h.put(spec('ec', { retries: 1 }));
  const [first] = h.fire('ec', 2000).executions;
  const res = h.ok({ type: CommandType.FinishExecutions, atMs: 3000, results: [{ id: first!.id, finishedAtMs: 3000, state: 'failed', output: '', outputTruncated: false, exitCode: 7, error: 'timed out', errorCode: 'CT_EXEC_TIMEOUT' }] });
  t.equal(h.sm.execution(first!.id)?.errorCode, 'CT_EXEC_TIMEOUT');
  const [retry] = res.executions;
  t.equal(retry?.state, 'pending');
  t.equal(retry?.errorCode, undefined, 'the retry carries no code of the attempt before it');
  const copy = new StateMachine({ historyLimit: 5 });
  copy.restore(h.sm.snapshot());
  t.equal(copy.execution(first!.id)?.errorCode, 'CT_EXEC_TIMEOUT', 'a snapshot keeps it');
  h.ok(decodeCommand(frame(0x01, { type: CommandType.FinishExecutions, atMs: 4000, results: [{ id: retry!.id, finishedAtMs: 4000, state: 'failed', output: 0, outputTruncated: false, exitCode: 1, error: 'old' }] }, [])));
  t.equal(h.sm.execution(retry!.id)?.state, 'failed', 'an entry from before codes applies');
  t.equal(h.sm.execution(retry!.id)?.errorCode, undefined, 'with no code');
});

t.test('pause: scheduled fires are skipped as paused, once each; manual runs go on; the flag survives a snapshot', async (t) => {
  const h = new Harness();
  h.put(spec('pz'));
  t.equal(h.sm.paused, false);
  h.ok({ type: CommandType.SetPaused, atMs: 1500, paused: true });
  t.equal(h.sm.paused, true);
  const a = h.fire('pz', 2000);
  const b = h.fire('pz', 3000);
  t.same(a.executions, []);
  t.same(b.executions, []);
  t.same(a.skips.map((s) => [s.reason, s.count, s.firstMs]), [['paused', 1, 2000]]);
  t.same(b.skips.map((s) => [s.reason, s.count, s.firstMs]), [['paused', 1, 3000]], 'each fire counted once in the answer');
  t.same(h.sm.skipsOf('pz')!.map((s) => [s.reason, s.firstMs, s.lastMs, s.count]), [['paused', 2000, 3000, 2]], 'consecutive paused fires share one range');
  t.equal(h.sm.job('pz')!.lastScheduledMs, 3000, 'skipped times are settled: no catch-up after unpause');
  t.equal(h.fire('pz', 3500, 'manual').executions.length, 1, 'a manual run still runs');
  const copy = new StateMachine({ historyLimit: 5 });
  copy.restore(h.sm.snapshot());
  t.equal(copy.paused, true, 'a snapshot keeps the pause');
  h.ok({ type: CommandType.SetPaused, atMs: 3600, paused: false });
  t.equal(h.fire('pz', 4000).executions.length, 1, 'runs again after unpause');
});

t.test('declared secret keys: recorded per executor, only ever added to, kept by a snapshot', async (t) => {
  const h = new Harness();
  t.same(h.sm.declaredSecretKeys('vault'), []);
  h.ok({ type: CommandType.DeclareSecretKeys, atMs: 1000, declared: [{ executor: 'vault', keys: ['dsn', 'signing_material'] }, { executor: 'mq', keys: ['pass'] }] });
  h.ok({ type: CommandType.DeclareSecretKeys, atMs: 2000, declared: [{ executor: 'vault', keys: ['api_secret', 'dsn'] }] });
  t.same(h.sm.declaredSecretKeys('vault'), ['api_secret', 'dsn', 'signing_material'], 'a union, sorted: a key once declared stays');
  t.same(h.sm.declaredSecretKeys('mq'), ['pass']);
  const copy = new StateMachine({ historyLimit: 5 });
  copy.restore(h.sm.snapshot());
  t.same(copy.declaredSecretKeys('vault'), ['api_secret', 'dsn', 'signing_material'], 'a snapshot keeps them');
  const encoded = decodeCommand(encodeCommand({ type: CommandType.DeclareSecretKeys, atMs: 3, declared: [{ executor: 'x', keys: ['k'] }] }));
  t.same(encoded, { type: CommandType.DeclareSecretKeys, atMs: 3, declared: [{ executor: 'x', keys: ['k'] }] });
});
