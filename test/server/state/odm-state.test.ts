// Open Data Mesh tasks in the replicated state (commands 30-33): a wait and
// its callback (token hash compared, a repeat changes nothing, the wait ends
// with the execution), inbound tasks (a fire in the same command, 409 on a
// reused taskId, 422 on an unknown job, the result when the group settles,
// delivery), and snapshots carrying all of it.

import t from 'tap';
import { CommandType, decodeCommand, encodeCommand, type Command } from '../../../server/state/commands.js';
import { defaultCatchUp, type JobSpec } from '../../../server/state/job.js';
import { sameHash } from '../../../server/state/odm-tasks.js';
import { StateMachine, type ApplyResult } from '../../../server/state/state-machine.js';

function spec(name: string, executor = 'shell'): JobSpec {
  return {
    name, displayName: '', timezone: '', schedule: '@every 1h', owner: '', ownerEmail: '', disabled: false,
    tags: {}, metadata: {}, retries: 0, parentJob: '', processors: {}, concurrency: 'allow', executor,
    executorConfig: executor === 'odm' ? { service: 'svc', taskType: 'build' } : { command: 'true' }, ephemeral: false,
    startsAtMs: null, expiresAtMs: null, catchUp: defaultCatchUp,
  };
}

function machine(sm = new StateMachine({ historyLimit: 5 })) {
  let index = sm.lastApplied;
  const apply = (c: Command): ApplyResult => sm.apply(decodeCommand(encodeCommand(c)), ++index);
  const ok = (c: Command) => {
    const r = apply(c);
    if (!r.ok) throw r.error;
    return r;
  };
  return { sm, apply, ok };
}

const code = (r: ApplyResult) => (r.ok ? 'ok' : r.error.code);
const h = (c: string) => c.repeat(64);

function finish(id: string, state: 'succeeded' | 'failed', atMs: number): Command {
  return { type: CommandType.FinishExecutions, atMs, results: [{ id, finishedAtMs: atMs, state, output: `out of ${id}`, outputTruncated: false, exitCode: state === 'succeeded' ? 0 : 1, error: state === 'failed' ? 'boom' : '' }] };
}

t.test('a wait takes one callback with the right token; a repeat changes nothing; it ends with its execution', async (t) => {
  const { sm, apply, ok } = machine();
  ok({ type: CommandType.PutJob, atMs: 1, job: spec('remote', 'odm') });
  const fired = ok({ type: CommandType.RecordFires, atMs: 10, fires: [{ jobName: 'remote', scheduledAtMs: 10, trigger: 'manual', nodes: ['n1'] }], skips: [], lastScheduled: [] });
  const id = fired.executions[0]?.id ?? '';
  ok({ type: CommandType.OdmTaskPosted, atMs: 11, executionId: id, taskId: 'task-1', service: 'svc', address: 'http://s', tokenHash: h('a'), checkAfterCallback: true, deadlineMs: 1011 });
  t.match(sm.odm.waitOf(id), { taskId: 'task-1', jobName: 'remote', checkAfterCallback: true, deadlineMs: 1011, callback: null });

  const callback = (tokenHash: string, status: 'PROCESSED' | 'FAILED', taskId = 'task-1'): Command =>
    ({ type: CommandType.OdmCallback, atMs: 20, taskId, tokenHash, status, results: { n: 1 }, errors: null });
  t.equal(code(apply(callback(h('b'), 'PROCESSED'))), 'CT_STATE_ODM_TASK_NOT_FOUND', 'a wrong token is refused');
  t.equal(code(apply(callback(h('a'), 'PROCESSED', 'task-2'))), 'CT_STATE_ODM_TASK_NOT_FOUND', 'an unknown task is refused');
  t.equal(sm.odm.waitOf(id)?.callback, null, 'neither recorded anything');
  t.equal(code(apply(callback(h('a'), 'PROCESSED'))), 'ok');
  t.match(sm.odm.waitOf(id)?.callback, { status: 'PROCESSED', results: { n: 1 }, atMs: 20 });
  t.equal(code(apply(callback(h('a'), 'FAILED'))), 'ok', 'a repeat is accepted');
  t.equal(sm.odm.waitOf(id)?.callback?.status, 'PROCESSED', 'and changes nothing');
  t.equal(sm.execution(id)?.state, 'running', 'a callback alone does not finish the execution: the leader does');

  ok(finish(id, 'succeeded', 30));
  t.equal(sm.odm.waitOf(id), undefined, 'the wait ends with the execution');
  t.equal(code(apply(callback(h('a'), 'FAILED'))), 'ok', 'a callback after the end is still answered');
  t.equal(code(apply(callback(h('c'), 'FAILED'))), 'CT_STATE_ODM_TASK_NOT_FOUND', 'but not with a wrong token');
  t.equal(code(apply({ type: CommandType.OdmTaskPosted, atMs: 40, executionId: id, taskId: 'late', service: '', address: 'http://s', tokenHash: h('d'), checkAfterCallback: false, deadlineMs: 50 })), 'ok');
  t.equal(sm.odm.waitOf(id), undefined, 'a wait for a finished execution is not kept');
});

t.test('inbound tasks: fired in the same command, unique, named by an existing job, settled with the group', async (t) => {
  const { sm, apply, ok } = machine();
  ok({ type: CommandType.PutJob, atMs: 1, job: spec('etl') });
  const received = (taskId: string, jobName = 'etl'): Command => ({
    type: CommandType.OdmTaskReceived, atMs: 100, taskId, jobName, callbackRef: 'http://platform/cb', parameters: { day: '2026-12-07' }, nodes: ['n1'],
  });
  const r = ok(received('t1'));
  t.equal(r.executions.length, 1, 'the job fired');
  t.match(r.executions[0], { jobName: 'etl', trigger: 'manual', state: 'running', nodeName: 'n1' });
  t.match(sm.odm.task('t1'), { jobName: 'etl', status: 'PROCESSING', parameters: { day: '2026-12-07' }, delivered: false });
  t.equal(code(apply(received('t1'))), 'CT_STATE_ODM_TASK_EXISTS', 'a taskId is used once');
  t.equal(code(apply(received('t2', 'nope'))), 'CT_STATE_ODM_UNKNOWN_TASK_TYPE');
  t.equal(sm.executionsOf('etl')?.length, 1, 'refused tasks started nothing');
  t.same(sm.odm.undelivered(), [], 'nothing to call back while it runs');

  const id = r.executions[0]?.id ?? '';
  ok(finish(id, 'failed', 150));
  t.match(sm.odm.task('t1'), { status: 'FAILED', finishedAtMs: 150, results: { message: 'boom', executionTime: 50, output: `out of ${id}`, execution_id: id } });
  t.equal(sm.odm.undelivered().length, 1);

  // A snapshot carries the pending callback; restored elsewhere, it is still owed.
  const copy = machine(new StateMachine({ historyLimit: 5 }));
  copy.sm.restore(sm.snapshot());
  t.same(copy.sm.odm.undelivered().map((x) => x.taskId), ['t1']);
  ok({ type: CommandType.OdmCallbackDelivered, atMs: 200, taskId: 't1' });
  t.same(sm.odm.undelivered(), []);
  t.equal(sm.odm.task('t1')?.delivered, true, 'the task stays, for its status');
  t.equal(code(apply(received('t1'))), 'CT_STATE_ODM_TASK_EXISTS', 'still used once');
});

t.test('a job deleted while its inbound task runs: the task is FAILED, saying so', async (t) => {
  const { sm, ok } = machine();
  ok({ type: CommandType.PutJob, atMs: 1, job: spec('gone') });
  ok({ type: CommandType.OdmTaskReceived, atMs: 100, taskId: 'g1', jobName: 'gone', callbackRef: 'http://p/cb', parameters: {}, nodes: ['n1'] });
  ok({ type: CommandType.DeleteJob, atMs: 200, name: 'gone' });
  t.match(sm.odm.task('g1'), { status: 'FAILED', results: { message: /deleted before the task finished/ }, delivered: false });
});

t.test('a retried job settles its task with the last attempt', async (t) => {
  const { sm, ok } = machine();
  ok({ type: CommandType.PutJob, atMs: 1, job: { ...spec('flaky'), retries: 1 } });
  const r = ok({ type: CommandType.OdmTaskReceived, atMs: 100, taskId: 'r1', jobName: 'flaky', callbackRef: '', parameters: {}, nodes: ['n1'] });
  const first = r.executions[0]?.id ?? '';
  const retry = ok(finish(first, 'failed', 110)).executions[0];
  t.equal(sm.odm.task('r1')?.status, 'PROCESSING', 'a retry is coming');
  ok({ type: CommandType.StartExecutions, atMs: 1200, starts: [{ id: retry?.id ?? '', nodeName: 'n1' }] });
  ok(finish(retry?.id ?? '', 'succeeded', 1300));
  t.match(sm.odm.task('r1'), { status: 'PROCESSED', results: { execution_id: retry?.id }, delivered: true }, 'no callbackRef: nothing to deliver');
});

t.test('a snapshot carries waits; one without ODM state restores empty', async (t) => {
  const { sm, ok } = machine();
  ok({ type: CommandType.PutJob, atMs: 1, job: spec('remote', 'odm') });
  const id = ok({ type: CommandType.RecordFires, atMs: 10, fires: [{ jobName: 'remote', scheduledAtMs: 10, trigger: 'manual', nodes: ['n1'] }], skips: [], lastScheduled: [] }).executions[0]?.id ?? '';
  ok({ type: CommandType.OdmTaskPosted, atMs: 11, executionId: id, taskId: 'w', service: 'svc', address: 'http://s', tokenHash: h('a'), checkAfterCallback: false, deadlineMs: 99 });
  const copy = new StateMachine({ historyLimit: 5 });
  copy.restore(sm.snapshot());
  t.match(copy.odm.waitOf(id), { taskId: 'w', deadlineMs: 99 });
  const c = machine(copy);
  t.equal(code(c.apply({ type: CommandType.OdmCallback, atMs: 20, taskId: 'w', tokenHash: h('a'), status: 'FAILED', results: null, errors: ['x'] })), 'ok');

  const empty = new StateMachine({ historyLimit: 5 });
  empty.restore(new TextEncoder().encode(JSON.stringify({ v: 1, nextSeq: 1, appliedIndex: 0, jobs: [] })));
  t.same(empty.odm.waits(), []);
});

t.test('sameHash', async (t) => {
  t.ok(sameHash(h('a'), h('a')));
  t.notOk(sameHash(h('a'), h('b')));
  t.notOk(sameHash(h('a'), h('a').slice(1)));
  t.notOk(sameHash('', h('a')));
});
