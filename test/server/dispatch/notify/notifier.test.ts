// The leader's notifier on a fake clock (its injected timers) over a command
// log that applies to the real state machine: attempts at their backoff
// times, giving up after the last, a delivery left pending by one leader and
// made by the next, an outcome whose commit is refused attempted again, and
// start notifications planned once. The deliverer is a script of answers (the
// real one is exercised against real receivers in test/e2e/light-notify).
import t from 'tap';
import { Notifier, type NotifyMetrics } from '../../../../server/dispatch/notify/notifier.js';
import type { Deliverer } from '../../../../server/dispatch/notify/delivery.js';
import { checkNotifySettings, defaultNotifySettings, type NotifySettings, type ParsedTemplates } from '../../../../server/dispatch/notify/notify-settings.js';
import type { Timers } from '../../../../server/dispatch/timer-heap.js';
import { CommandType, type Command } from '../../../../server/state/commands.js';
import { defaultCatchUp, type JobSpec } from '../../../../server/state/job.js';
import type { Notification } from '../../../../server/state/notification.js';
import { StateMachine, type ApplyResult } from '../../../../server/state/state-machine.js';

async function settle(): Promise<void> {
  for (let i = 0; i < 8; i++) await new Promise((r) => setImmediate(r));
}

class FakeClock implements Timers {
  nowMs = 1_000_000;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  setTimeout(fn: () => void, ms: number): unknown {
    this.timers.set(++this.seq, { at: this.nowMs + ms, fn });
    return this.seq;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  async advance(ms: number): Promise<void> {
    const end = this.nowMs + ms;
    for (;;) {
      await settle();
      let next: [number, { at: number; fn: () => void }] | null = null;
      for (const e of this.timers) if (e[1].at <= end && (next === null || e[1].at < next[1].at)) next = e;
      if (next === null) break;
      this.timers.delete(next[0]);
      this.nowMs = Math.max(this.nowMs, next[1].at);
      next[1].fn();
    }
    this.nowMs = end;
    await settle();
  }
}

class MemoryLog {
  readonly sm = new StateMachine();
  readonly submitted: Command[] = [];
  refuse = 0;
  private index = 0;
  submit(c: Command): Promise<ApplyResult> {
    this.submitted.push(c);
    if (this.refuse > 0) {
      this.refuse--;
      return Promise.reject(new Error('no quorum'));
    }
    return Promise.resolve(this.sm.apply(c, ++this.index));
  }
}

/** Answers each delivery from a script: true delivers, a string fails with it; past the end, delivers. */
class ScriptedDeliverer implements Deliverer {
  readonly calls: { id: string; atMs: number }[] = [];
  constructor(private readonly clock: FakeClock, private readonly script: (boolean | string)[]) {}
  deliver(n: Notification): Promise<void> {
    this.calls.push({ id: n.id, atMs: this.clock.nowMs });
    const answer = this.script.shift() ?? true;
    return answer === true ? Promise.resolve() : Promise.reject(new Error(String(answer)));
  }
  close(): void {}
}

class CountingMetrics implements NotifyMetrics {
  readonly settled: string[] = [];
  failedAttempts = 0;
  notificationSettled(channel: string, outcome: string): void {
    this.settled.push(`${channel}:${outcome}`);
  }
  notificationAttemptFailed(): void {
    this.failedAttempts++;
  }
}

function spec(over: Partial<JobSpec> = {}): JobSpec {
  return {
    name: 'j', displayName: '', timezone: '', schedule: '@manually', owner: '', ownerEmail: '', disabled: false,
    tags: {}, metadata: {}, retries: 0, parentJob: '', processors: {}, concurrency: 'allow', executor: 'shell',
    executorConfig: { command: 'true' }, ephemeral: false, startsAtMs: null, expiresAtMs: null, catchUp: defaultCatchUp,
    notify: [{ on: 'always', email: [], webhook: 'http://hooks/x', payload: '{{.JobName}}' }], ...over,
  };
}

function world(script: (boolean | string)[], settings: Partial<NotifySettings> = {}) {
  const clock = new FakeClock();
  const log = new MemoryLog();
  const full: NotifySettings = { ...defaultNotifySettings, attempts: 3, backoffMs: 1000, ...settings };
  const templates = checkNotifySettings(full) as ParsedTemplates;
  const deliverer = new ScriptedDeliverer(clock, script);
  const metrics = new CountingMetrics();
  const lines: { level: string; fields: Record<string, unknown> }[] = [];
  const make = () => new Notifier({
    state: log.sm, log, now: () => clock.nowMs, settings: full, templates, nodeName: 'leader1', deliverer, metrics, timers: clock,
    logLine: (level, _line, fields) => lines.push({ level, fields }),
  });
  return { clock, log, deliverer, metrics, lines, make };
}

/** A job run to its end, its result committed with what the notifier plans for it; returns the execution id. */
async function runOnce(w: ReturnType<typeof world>, notifier: Notifier, job: JobSpec = spec()): Promise<string> {
  await w.log.submit({ type: CommandType.PutJob, atMs: w.clock.nowMs, job });
  const fired = await w.log.submit({ type: CommandType.RecordFires, atMs: w.clock.nowMs, fires: [{ jobName: job.name, scheduledAtMs: w.clock.nowMs, trigger: 'manual', nodes: ['n1'] }], skips: [], lastScheduled: [] });
  const e = fired.ok ? fired.executions[0] : undefined;
  if (!e) throw new Error('no execution');
  notifier.started([e]);
  const result = { id: e.id, finishedAtMs: w.clock.nowMs, state: 'succeeded' as const, output: 'x', outputTruncated: false, exitCode: 0, error: '' };
  await w.log.submit({ type: CommandType.FinishExecutions, atMs: w.clock.nowMs, results: [result], notifications: notifier.forResult(result) });
  return e.id;
}

t.test('attempts at the backoff times, then failed; counted and logged', async (t) => {
  const w = world(['refused 1', 'refused 2', 'refused 3']);
  const notifier = w.make();
  notifier.startLeading();
  const start = w.clock.nowMs;
  const id = await runOnce(w, notifier);
  await w.clock.advance(10_000);
  t.same(w.deliverer.calls.map((c) => c.atMs - start), [0, 1000, 3000], 'at once, after 1 s, after 2 s more');
  t.match(w.log.sm.notificationsOf(id)[0], { state: 'failed', attempts: 3, lastError: 'refused 3' });
  t.equal(w.metrics.failedAttempts, 3);
  t.same(w.metrics.settled, ['webhook:failed']);
  t.same(w.lines.map((l) => [l.level, l.fields['state'], l.fields['attempt']]), [['warn', 'pending', 1], ['warn', 'pending', 2], ['error', 'failed', 3]]);
});

t.test('a delivery pending when one leader stops is made by the next, from its due time', async (t) => {
  const w = world(['refused']);
  const first = w.make();
  first.startLeading();
  const id = await runOnce(w, first);
  await w.clock.advance(10);
  t.equal(w.log.sm.notificationsOf(id)[0]?.attempts, 1);
  first.stopLeading();
  await w.clock.advance(5000);
  t.equal(w.deliverer.calls.length, 1, 'nothing while no one leads');
  const second = w.make();
  second.startLeading();
  await w.clock.advance(10);
  t.equal(w.deliverer.calls.length, 2);
  t.match(w.log.sm.notificationsOf(id)[0], { state: 'delivered', attempts: 2 });
});

t.test('an outcome whose commit is refused is attempted again while leading', async (t) => {
  const w = world([true, true]);
  const notifier = w.make();
  notifier.startLeading();
  const id = await runOnce(w, notifier);
  t.equal(w.log.sm.notificationsOf(id)[0]?.state, 'pending');
  w.log.refuse = 1;
  await w.clock.advance(5000);
  t.equal(w.deliverer.calls.length, 2, 'delivered again (at least once)');
  t.match(w.log.sm.notificationsOf(id)[0], { state: 'delivered', attempts: 1 }, 'recorded as the first attempt');
});

t.test('start notifications are planned once, also by a new leader for what still runs', async (t) => {
  const w = world([], { preWebhook: { endpoint: 'http://hooks/pre', payload: 'pre {{.JobName}}', headers: [] } });
  const notifier = w.make();
  await w.log.submit({ type: CommandType.PutJob, atMs: w.clock.nowMs, job: spec({ notify: [{ on: 'start', email: [], webhook: 'http://hooks/start', payload: '' }] }) });
  const fired = await w.log.submit({ type: CommandType.RecordFires, atMs: w.clock.nowMs, fires: [{ jobName: 'j', scheduledAtMs: w.clock.nowMs, trigger: 'manual', nodes: ['n1'] }], skips: [], lastScheduled: [] });
  const e = fired.ok ? fired.executions[0] : undefined;
  if (!e) throw new Error('no execution');
  // The leader that started it died before it recorded the starts: the next one plans them.
  notifier.startLeading();
  await w.clock.advance(10);
  t.same(w.log.sm.notificationsOf(e.id).map((n) => [n.source, n.state]), [['pre-webhook', 'delivered'], ['rule', 'delivered']]);
  const adds = () => w.log.submitted.filter((c) => c.type === CommandType.AddNotifications).length;
  t.equal(adds(), 1);
  notifier.started([e]);
  notifier.stopLeading();
  notifier.startLeading();
  await w.clock.advance(10);
  t.equal(adds(), 1, 'not planned again');
  t.equal(w.deliverer.calls.length, 2);
});

t.test('no settings and no rules: nothing planned, nothing committed', async (t) => {
  const w = world([]);
  const notifier = w.make();
  notifier.startLeading();
  const id = await runOnce(w, notifier, spec({ notify: undefined }));
  t.same(w.log.sm.notificationsOf(id), []);
  t.equal(w.log.submitted.filter((c) => c.type === CommandType.AddNotifications || c.type === CommandType.NotificationOutcomes).length, 0);
});
