// Notification records in the replicated state: stored with the result that
// owes them (and only then), once per id; attempts applied in turn and once;
// kept in snapshots; dropped with their execution once settled.
import t from 'tap';
import { CommandType, decodeCommand, encodeCommand, type Command } from '../../../server/state/commands.js';
import { defaultCatchUp, type JobSpec } from '../../../server/state/job.js';
import type { NotificationSpec } from '../../../server/state/notification.js';
import { StateMachine, type ApplyResult } from '../../../server/state/state-machine.js';

function spec(name: string, over: Partial<JobSpec> = {}): JobSpec {
  return {
    name, displayName: '', timezone: '', schedule: '@manually', owner: '', ownerEmail: '', disabled: false,
    tags: {}, metadata: {}, retries: 0, parentJob: '', processors: {}, concurrency: 'allow', executor: 'shell',
    executorConfig: { command: 'true' }, ephemeral: false, startsAtMs: null, expiresAtMs: null, catchUp: defaultCatchUp, ...over,
  };
}

function note(executionId: string, n = 0, event: 'start' | 'finish' = 'finish'): NotificationSpec {
  return {
    id: `${executionId}:${event}:${n}`, executionId, jobName: 'j', event, channel: 'webhook', source: 'rule', on: 'always',
    url: 'http://hooks/x', to: [], subject: '', body: `body ${executionId}`,
  };
}

class Harness {
  sm = new StateMachine({ historyLimit: 2 });
  private index = 0;
  apply(c: Command): ApplyResult {
    return this.sm.apply(decodeCommand(encodeCommand(c)), ++this.index);
  }
  run(name = 'j', atMs = 2000): string {
    const r = this.apply({ type: CommandType.RecordFires, atMs, fires: [{ jobName: name, scheduledAtMs: atMs, trigger: 'manual', nodes: ['n1'] }], skips: [], lastScheduled: [] });
    if (!r.ok || !r.executions[0]) throw new Error('no execution');
    return r.executions[0].id;
  }
  finish(id: string, notifications: NotificationSpec[], atMs = 3000): void {
    this.apply({ type: CommandType.FinishExecutions, atMs, results: [{ id, finishedAtMs: atMs, state: 'succeeded', output: '', outputTruncated: false, exitCode: 0, error: '' }], notifications });
  }
  outcome(id: string, attempt: number, delivered: boolean, nextAttemptMs: number | null, atMs = 4000): void {
    this.apply({ type: CommandType.NotificationOutcomes, atMs, outcomes: [{ id, attempt, delivered, error: delivered ? '' : `refused ${attempt}`, nextAttemptMs }] });
  }
}

t.test('stored with the result that owes them, once', async (t) => {
  const h = new Harness();
  h.apply({ type: CommandType.PutJob, atMs: 1000, job: spec('j') });
  const id = h.run();
  const other = h.run();
  h.finish(id, [note(id), note(other)]);
  t.same(h.sm.notificationsOf(id).map((n) => [n.id, n.state, n.attempts, n.createdAtMs, n.nextAttemptMs]), [[`${id}:finish:0`, 'pending', 0, 3000, 3000]]);
  t.same(h.sm.notificationsOf(other), [], 'a record for an execution the command does not finish is dropped');
  h.finish(id, [{ ...note(id), body: 'again' }], 3500);
  t.equal(h.sm.notificationsOf(id)[0]?.body, `body ${id}`, 'a result applied twice adds nothing');
  h.apply({ type: CommandType.AddNotifications, atMs: 3600, notifications: [note(other, 0, 'start'), note(other, 0, 'start')] });
  t.equal(h.sm.notificationsOf(other).length, 1, 'one per id');
  h.apply({ type: CommandType.AddNotifications, atMs: 3600, notifications: [note('999')] });
  t.equal(h.sm.notification('999:finish:0'), undefined, 'none for an execution that does not exist');
});

t.test('attempts apply in turn and once: pending, then delivered or failed', async (t) => {
  const h = new Harness();
  h.apply({ type: CommandType.PutJob, atMs: 1000, job: spec('j') });
  const id = h.run();
  h.finish(id, [note(id, 0), note(id, 1)]);
  const [a, b] = [`${id}:finish:0`, `${id}:finish:1`];
  h.outcome(a, 1, false, 5000);
  t.match(h.sm.notification(a), { state: 'pending', attempts: 1, lastError: 'refused 1', nextAttemptMs: 5000, settledAtMs: null });
  h.outcome(a, 1, true, null);
  t.equal(h.sm.notification(a)?.attempts, 1, 'the same attempt twice changes nothing');
  h.outcome(a, 3, true, null);
  t.equal(h.sm.notification(a)?.state, 'pending', 'an attempt out of turn changes nothing');
  h.outcome(a, 2, true, null, 6000);
  t.match(h.sm.notification(a), { state: 'delivered', attempts: 2, lastError: '', settledAtMs: 6000 });
  h.outcome(b, 1, false, null, 6100);
  t.match(h.sm.notification(b), { state: 'failed', attempts: 1, lastError: 'refused 1', settledAtMs: 6100 });
  t.same(h.sm.pendingNotifications(), []);
});

t.test('a snapshot keeps them; a restored state goes on the same way', async (t) => {
  const h = new Harness();
  h.apply({ type: CommandType.PutJob, atMs: 1000, job: spec('j') });
  const id = h.run();
  h.finish(id, [note(id, 0), note(id, 1)]);
  h.outcome(`${id}:finish:0`, 1, true, null);
  const copy = new StateMachine({ historyLimit: 2 });
  copy.restore(h.sm.snapshot());
  t.same(copy.notificationsOf(id), h.sm.notificationsOf(id));
  t.same(copy.pendingNotifications().map((n) => n.id), [`${id}:finish:1`]);
  const old = new StateMachine();
  old.restore(new StateMachine().snapshot());
  t.same(old.pendingNotifications(), [], 'a snapshot from before notifications has none');
});

t.test('an execution leaving the history takes its settled records; pending ones stay until they settle', async (t) => {
  const h = new Harness();
  h.apply({ type: CommandType.PutJob, atMs: 1000, job: spec('j') });
  const first = h.run('j', 2000);
  h.finish(first, [note(first, 0), note(first, 1)]);
  h.outcome(`${first}:finish:0`, 1, true, null);
  // History limit 2: two more executions push the first one out.
  for (const at of [5000, 6000]) h.finish(h.run('j', at), [], at + 10);
  t.equal(h.sm.execution(first), undefined, 'the first execution left the history');
  t.equal(h.sm.notification(`${first}:finish:0`), undefined, 'its delivered record went with it');
  t.equal(h.sm.notification(`${first}:finish:1`)?.state, 'pending', 'its pending one is still delivered');
  h.outcome(`${first}:finish:1`, 1, true, null, 7000);
  t.equal(h.sm.notification(`${first}:finish:1`), undefined, 'and goes once settled');
});

t.test('an ephemeral job deleted by its success leaves its deliveries pending', async (t) => {
  const h = new Harness();
  h.apply({ type: CommandType.PutJob, atMs: 1000, job: spec('e', { ephemeral: true }) });
  const id = h.run('e');
  h.finish(id, [{ ...note(id), jobName: 'e' }]);
  t.equal(h.sm.job('e'), undefined, 'the job is gone');
  t.same(h.sm.pendingNotifications().map((n) => n.id), [`${id}:finish:0`]);
});

t.test('a job\'s notify rules are checked by the state machine as well', async (t) => {
  const h = new Harness();
  const r = h.apply({ type: CommandType.PutJob, atMs: 1000, job: spec('bad', { notify: [{ on: 'failure', email: ['nobody'], webhook: '', payload: '' }] }) });
  t.match(r, { ok: false, error: { field: 'notify[0].email' } });
  const ok = h.apply({ type: CommandType.PutJob, atMs: 1000, job: spec('good', { notify: [{ on: 'failure', email: ['a@b.c'], webhook: '', payload: '' }] }) });
  t.match(ok, { ok: true });
  t.same(h.sm.job('good')?.notify, [{ on: 'failure', email: ['a@b.c'], webhook: '', payload: '' }]);
  t.notOk('notify' in (h.sm.job('bad') ?? spec('x')), 'a job without rules has no notify field');
});
