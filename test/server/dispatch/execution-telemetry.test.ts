// ExecutionTelemetry with the real state machine: what it counts and logs
// for entries this server proposed (own) and for entries it only follows.
import t from 'tap';
import { CommandType, type Command } from '../../../server/state/commands.js';
import { defaultCatchUp, type JobSpec } from '../../../server/state/job.js';
import { StateMachine } from '../../../server/state/state-machine.js';
import { planRun } from '../../../server/scheduler/workflow-unlocks.js';
import { ExecutionTelemetry, type DispatchMetrics } from '../../../server/dispatch/execution-telemetry.js';

function spec(name: string, over: Partial<JobSpec> = {}): JobSpec {
  return {
    name, displayName: '', timezone: '', schedule: '@every 1s', owner: '', ownerEmail: '', disabled: false,
    tags: {}, metadata: {}, retries: 0, parentJob: '', processors: {}, concurrency: 'allow', executor: 'shell',
    executorConfig: { command: 'true' }, ephemeral: false, startsAtMs: null, expiresAtMs: null, catchUp: defaultCatchUp,
    ...over,
  };
}

function harness(nowMs = 10_500) {
  const state = new StateMachine({ historyLimit: 10 });
  const finished: Parameters<DispatchMetrics['executionFinished']>[0][] = [];
  const fired: [string, number][] = [];
  const skipped: [string, number][] = [];
  const lateness: number[] = [];
  const lines: { msg: string; fields: Readonly<Record<string, unknown>> }[] = [];
  const telemetry = new ExecutionTelemetry({
    state, now: () => nowMs,
    metrics: {
      executionFinished: (e) => finished.push(e),
      fired: (trigger, n) => fired.push([trigger, n]),
      skipped: (reason, n) => skipped.push([reason, n]),
      fireLateness: (s) => lateness.push(s),
    },
    log: { info: (msg, fields) => lines.push({ msg, fields }) },
  });
  let index = 0;
  const apply = (own: boolean, c: Command) => telemetry.apply(own, c, () => state.apply(c, ++index));
  return { state, apply, finished, fired, skipped, lateness, lines };
}

const fires = (jobName: string, scheduledAtMs: number, nodes = ['a1']): Command => ({
  type: CommandType.RecordFires, atMs: scheduledAtMs + 400,
  fires: [{ jobName, scheduledAtMs, trigger: 'schedule', nodes }],
  skips: [{ jobName, firstMs: 1000, lastMs: 3000, count: 3, reason: 'superseded' }],
  lastScheduled: [{ jobName, atMs: scheduledAtMs }],
});
const finish = (id: string, state: 'succeeded' | 'failed', exitCode: number): Command => ({
  type: CommandType.FinishExecutions, atMs: 12_000,
  results: [{ id, finishedAtMs: 12_000, state, output: '', outputTruncated: false, exitCode, error: state === 'failed' ? 'exit status 2' : '', ...(state === 'failed' ? { errorCode: 'CT_EXEC_FAILED' } : {}) }],
});

t.test('own entries: one fire per group, skips by reason, lateness, one start and one finish per execution', async (t) => {
  const h = harness();
  h.apply(true, { type: CommandType.PutJob, atMs: 1, job: spec('j') });
  h.apply(true, fires('j', 10_000, ['a1', 'a2']));
  t.same(h.fired, [['schedule', 1]], 'a fire on two nodes is one fire');
  t.same(h.skipped, [['superseded', 3]]);
  t.same(h.lateness, [0.5, 0.5], 'each started execution: now minus its scheduled time');
  t.same(h.lines.map((l) => [l.msg, l.fields['node']]), [['execution started', 'a1'], ['execution started', 'a2']]);
  const [e1, e2] = h.state.activeExecutions();
  if (!e1 || !e2) throw new Error('no executions');
  h.apply(true, finish(e1.id, 'succeeded', 0));
  h.apply(true, finish(e2.id, 'failed', 2));
  h.apply(true, finish(e2.id, 'succeeded', 0)); // applied twice: the state keeps the first, and so do the counters
  t.same(h.finished, [
    { job: 'j', executor: 'shell', state: 'succeeded', exitCode: 0, seconds: 1.6 },
    { job: 'j', executor: 'shell', state: 'failed', exitCode: 2, seconds: 1.6 },
  ]);
  t.match(h.lines.at(-1), { msg: 'execution finished', fields: { event: 'execution_finished', job: 'j', execution: e2.id, node: 'a2', state: 'failed', duration_ms: 1600, exit_code: 2, error: 'exit status 2', error_code: 'CT_EXEC_FAILED' } });
  t.equal(h.lines.filter((l) => l.msg === 'execution finished').length, 2);
});

t.test('entries this server only follows (or replays) count and log nothing', async (t) => {
  const h = harness();
  h.apply(false, { type: CommandType.PutJob, atMs: 1, job: spec('j') });
  h.apply(false, fires('j', 10_000));
  const [e] = h.state.activeExecutions();
  if (!e) throw new Error('no execution');
  h.apply(false, finish(e.id, 'succeeded', 0));
  t.same([h.finished, h.fired, h.skipped, h.lateness, h.lines], [[], [], [], [], []]);
  t.equal(h.state.execution(e.id)?.state, 'succeeded', 'the state still moved');
});

t.test('a retry is no new fire; a child job run is a fire with trigger parent', async (t) => {
  const h = harness();
  h.apply(true, { type: CommandType.PutJob, atMs: 1, job: spec('p', { retries: 1 }) });
  h.apply(true, { type: CommandType.PutJob, atMs: 1, job: spec('c', { schedule: '', parentJob: 'p' }) });
  h.apply(true, fires('p', 10_000));
  const [first] = h.state.activeExecutions();
  if (!first) throw new Error('no execution');
  h.apply(true, finish(first.id, 'failed', 1));
  const retry = h.state.activeExecutions().find((e) => e.trigger === 'retry');
  if (!retry) throw new Error('no retry');
  h.apply(true, { type: CommandType.StartExecutions, atMs: 14_000, starts: [{ id: retry.id, nodeName: 'a1' }] });
  h.apply(true, finish(retry.id, 'succeeded', 0));
  // The leader's planner starts the child of the run.
  const runId = first.runId ?? '';
  const plan = planRun(h.state.run(runId)!);
  h.apply(true, { type: CommandType.AdvanceRun, atMs: 14_500, runId, start: plan.start, skip: plan.skip });
  t.same(h.fired, [['schedule', 1], ['parent', 1]]);
  t.same(h.finished.map((f) => f.state), ['failed', 'succeeded']);
  t.equal(h.lateness.length, 1, 'lateness is for scheduled starts only');
});
