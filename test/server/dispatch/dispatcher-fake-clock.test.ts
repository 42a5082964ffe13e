// The dispatcher on a fake clock (its injected timers), over a command log
// that applies to the real state machine and can hold, refuse or see a
// commit: catch-up on becoming leader, orphans marked lost, retries after
// their delay, planning again after a failed commit, a job edited or deleted
// while its fires commit, forbid with a run in flight, and a leader that
// loses its term between plan and commit. No sleeps: time moves only when a
// test moves it.

import t from 'tap';
import { Dispatcher } from '../../../server/dispatch/dispatcher.js';
import type { ExecutorHost, RunOutcome } from '../../../server/dispatch/executor-host.js';
import type { Timers } from '../../../server/dispatch/timer-heap.js';
import { CommandType, encodeCommand, type Command, type RecordFires } from '../../../server/state/commands.js';
import { defaultCatchUp, type JobSpec } from '../../../server/state/job.js';
import { StateMachine, retryBackoffMs, type ApplyResult } from '../../../server/state/state-machine.js';

/** Promise continuations run; the fake clock has no other source of events. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
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
  /** Move time forward by `ms`, firing each timer at its time, in order. */
  async advance(ms: number): Promise<void> {
    const end = this.nowMs + ms;
    for (;;) {
      await settle();
      let next: [number, { at: number; fn: () => void }] | null = null;
      for (const e of this.timers) if (e[1].at <= end && (next === null || e[1].at < next[1].at || (e[1].at === next[1].at && e[0] < next[0]))) next = e;
      if (next === null) break;
      this.timers.delete(next[0]);
      this.nowMs = Math.max(this.nowMs, next[1].at);
      next[1].fn();
    }
    this.nowMs = end;
    await settle();
  }
}

/** The replicated log reduced to one server: submit applies to the real state machine. */
class MemoryLog {
  readonly sm = new StateMachine();
  readonly submitted: Command[] = [];
  private index = 0;
  /** Refuse the next n submits (no quorum). */
  refuse = 0;
  /** Hold RecordFires commits until release() (a slow quorum). */
  holding = false;
  /** Refuse a command whose encoding is larger, as the stores do (CT_CLUSTER_ENTRY_TOO_LARGE). */
  maxBytes = Infinity;
  tooLarge = 0;
  private held: (() => void)[] = [];
  apply(c: Command): ApplyResult {
    return this.sm.apply(c, ++this.index);
  }
  async submit(c: Command): Promise<ApplyResult> {
    this.submitted.push(c);
    if (this.refuse > 0) {
      this.refuse--;
      throw new Error('no quorum');
    }
    if (encodeCommand(c).length > this.maxBytes) {
      this.tooLarge++;
      throw Object.assign(new Error('this change is larger than a log entry may be'), { code: 'CT_CLUSTER_ENTRY_TOO_LARGE' });
    }
    if (this.holding && c.type === CommandType.RecordFires) await new Promise<void>((r) => this.held.push(r));
    return this.apply(c);
  }
  release(): void {
    this.holding = false;
    for (const r of this.held.splice(0)) r();
  }
  fires(job?: string): number[] {
    return this.submitted.filter((c): c is RecordFires => c.type === CommandType.RecordFires)
      .flatMap((c) => c.fires.filter((f) => f.trigger === 'schedule' && (job === undefined || f.jobName === job)).map((f) => f.scheduledAtMs));
  }
  of(type: Command['type']): Command[] {
    return this.submitted.filter((c) => c.type === type);
  }
}

function job(name: string, over: Partial<JobSpec> = {}): JobSpec {
  return {
    name, displayName: '', timezone: '', schedule: '@every 1s', owner: '', ownerEmail: '', disabled: false,
    tags: {}, metadata: {}, retries: 0, parentJob: '', processors: {}, concurrency: 'allow', executor: 'noop',
    executorConfig: {}, ephemeral: false, startsAtMs: null, expiresAtMs: null, catchUp: defaultCatchUp, ...over,
  };
}

function setup(outcome: () => Promise<RunOutcome> = () => Promise.resolve({ success: true, exitCode: 0, error: '' }), errors: unknown[] = []) {
  const clock = new FakeClock();
  const log = new MemoryLog();
  const host: ExecutorHost = { execute: () => outcome(), executors: () => ['noop'] };
  const d = new Dispatcher({ nodeName: 'n1', state: log.sm, log, host, now: () => clock.nowMs, outputLimit: 1024, timers: clock, onError: (err) => errors.push(err) });
  return { clock, log, d };
}

t.test('catch-up on becoming leader: the latest missed second runs, the others are recorded skipped', async (t) => {
  const { clock, log, d } = setup();
  log.apply({ type: CommandType.PutJob, atMs: clock.nowMs, job: job('a') });
  await clock.advance(10_500); // nobody led for 10.5 s
  d.startLeading();
  await clock.advance(0);
  const first = log.of(CommandType.RecordFires)[0] as RecordFires;
  t.same(first.fires.map((f) => f.scheduledAtMs - 1_000_000), [10_000], 'the newest missed second runs (catch-up "latest")');
  t.same(first.skips.map((s) => [s.firstMs - 1_000_000, s.lastMs - 1_000_000, s.count, s.reason]), [[1000, 9000, 9, 'superseded']]);
  await clock.advance(3000);
  t.same(log.fires('a').map((x) => x - 1_000_000), [10_000, 11_000, 12_000, 13_000], 'then every second on time');
  await d.shutdown();
});

t.test('orphans: a run the previous leader left running is recorded lost', async (t) => {
  const { clock, log, d } = setup();
  log.apply({ type: CommandType.PutJob, atMs: clock.nowMs, job: job('a', { schedule: '@manually' }) });
  log.apply({ type: CommandType.RecordFires, atMs: clock.nowMs, fires: [{ jobName: 'a', scheduledAtMs: clock.nowMs, trigger: 'manual', nodes: ['gone'] }], skips: [], lastScheduled: [] });
  d.startLeading();
  await clock.advance(0);
  const [e] = log.sm.executionsOf('a') ?? [];
  t.equal(e?.state, 'lost');
  t.match(e?.error, /lost: node gone stopped or lost leadership/);
  await d.shutdown();
});

t.test('a retry starts after its delay, not before', async (t) => {
  let runs = 0;
  const { clock, log, d } = setup(async () => ({ success: ++runs > 1, exitCode: runs > 1 ? 0 : 1, error: runs > 1 ? '' : 'exit status 1' }));
  log.apply({ type: CommandType.PutJob, atMs: clock.nowMs, job: job('a', { schedule: '@manually', retries: 1 }) });
  d.startLeading();
  await d.runNow('a');
  await clock.advance(0);
  t.equal(runs, 1);
  const delay = retryBackoffMs(1);
  await clock.advance(delay - 1);
  t.equal(log.of(CommandType.StartExecutions).length, 0, 'not started before its delay');
  await clock.advance(1);
  t.equal(log.of(CommandType.StartExecutions).length, 1, 'started when the delay is up');
  t.equal(runs, 2);
  t.same((log.sm.executionsOf('a') ?? []).map((e) => [e.attempt, e.state]).sort(), [[1, 'failed'], [2, 'succeeded']]);
  await d.shutdown();
});

t.test('a fire that fails to commit is planned again, and runs once', async (t) => {
  let runs = 0;
  const { clock, log, d } = setup(async () => { runs++; return { success: true, exitCode: 0, error: '' }; });
  log.apply({ type: CommandType.PutJob, atMs: clock.nowMs, job: job('a', { schedule: '@every 10s' }) });
  d.startLeading();
  log.refuse = 1;
  await clock.advance(10_000);
  t.equal(log.of(CommandType.RecordFires).length, 1, 'tried once, refused');
  t.equal(runs, 0, 'nothing ran');
  await clock.advance(1000);
  t.same(log.fires('a').map((x) => x - 1_000_000), [10_000, 10_000], 'the same second, planned again');
  t.equal(runs, 1, 'and run once it committed');
  await d.shutdown();
});

t.test('a job edited while its fires commit: no second fires twice, and the new schedule follows', async (t) => {
  const { clock, log, d } = setup();
  log.apply({ type: CommandType.PutJob, atMs: clock.nowMs, job: job('a') });
  d.startLeading();
  log.holding = true;
  await clock.advance(1000);
  t.equal(log.fires('a').length, 1, 'the first fire is committing');
  log.apply({ type: CommandType.PutJob, atMs: clock.nowMs, job: job('a', { schedule: '@every 5s' }) });
  await clock.advance(500);
  log.release();
  await clock.advance(10_500);
  const fires = log.fires('a');
  t.equal(new Set(fires).size, fires.length, `no second twice: ${fires.map((x) => x - 1_000_000).join(', ')}`);
  const executed = (log.sm.executionsOf('a') ?? []).filter((e) => e.trigger === 'schedule').map((e) => e.scheduledAtMs - 1_000_000);
  t.same(executed, [6000, 11_000], 'the plan made for the old schedule did not apply; the new one runs every 5 s from the edit');
  await d.shutdown();
});

t.test('a job deleted while its fires commit fires no more', async (t) => {
  const { clock, log, d } = setup();
  log.apply({ type: CommandType.PutJob, atMs: clock.nowMs, job: job('a') });
  d.startLeading();
  log.holding = true;
  await clock.advance(1000);
  log.apply({ type: CommandType.DeleteJob, atMs: clock.nowMs, name: 'a' });
  log.release();
  await clock.advance(5000);
  t.equal(log.fires('a').length, 1, 'only the fire planned before the delete');
  t.equal(log.sm.job('a'), undefined);
  await d.shutdown();
});

t.test('forbid with a run in flight: the next seconds are recorded skipped', async (t) => {
  const finish: (() => void)[] = [];
  const { clock, log, d } = setup(() => new Promise((r) => { finish.push(() => r({ success: true, exitCode: 0, error: '' })); }));
  log.apply({ type: CommandType.PutJob, atMs: clock.nowMs, job: job('a', { concurrency: 'forbid' }) });
  d.startLeading();
  await clock.advance(3000);
  t.equal((log.sm.executionsOf('a') ?? []).length, 1, 'one run');
  t.same((log.sm.skipsOf('a') ?? []).map((s) => s.reason), ['forbid_running', 'forbid_running']);
  finish.shift()?.();
  await clock.advance(1000);
  t.equal((log.sm.executionsOf('a') ?? []).length, 2, 'the next second runs once the first is done');
  for (const f of finish.splice(0)) f();
  await d.shutdown();
});

t.test('a leader that loses its term between plan and commit fires nothing more; back as leader, it does not fire that second again', async (t) => {
  const { clock, log, d } = setup();
  log.apply({ type: CommandType.PutJob, atMs: clock.nowMs, job: job('a', { schedule: '@every 10s' }) });
  d.startLeading();
  log.holding = true;
  await clock.advance(10_000);
  d.stopLeading();
  log.release(); // the entry committed after all (the next leader had it)
  await clock.advance(30_000);
  t.same(log.fires('a').map((x) => x - 1_000_000), [10_000], 'nothing was planned while not leading');
  d.startLeading();
  await clock.advance(10_000);
  const fires = log.fires('a').map((x) => x - 1_000_000);
  t.equal(new Set(fires).size, fires.length, `no second twice: ${fires.join(', ')}`);
  t.ok(fires.includes(40_000), 'back on schedule');
  await d.shutdown();
});

t.test('a burst of 3,000 due jobs commits in bounded commands; one the log refuses as too large is split; each job fires once', async (t) => {
  const errors: unknown[] = [];
  const { clock, log, d } = setup(undefined, errors);
  const names = Array.from({ length: 3000 }, (_, i) => `burst-${i}`);
  for (const name of names) log.apply({ type: CommandType.PutJob, atMs: clock.nowMs, job: job(name, { schedule: '@every 10s' }) });
  // Smaller than the dispatcher's own bound (as an etcd with a small --max-request-bytes is), so its first commands are refused.
  log.maxBytes = 100 * 1024;
  d.startLeading();
  await clock.advance(10_000);
  const byJob = new Map<string, number>();
  for (const c of log.of(CommandType.RecordFires) as RecordFires[]) {
    if (encodeCommand(c).length > log.maxBytes) continue;
    for (const f of c.fires) byJob.set(f.jobName, (byJob.get(f.jobName) ?? 0) + 1);
  }
  t.equal(byJob.size, 3000, 'every job fired');
  t.same(names.filter((n) => byJob.get(n) !== 1), [], 'each job in exactly one committed command');
  t.ok(log.tooLarge > 0, 'the log refused commands as too large');
  t.same(errors, [], 'and the split commands all committed');
  t.equal(log.sm.executionsOf('burst-0')?.length, 1);
  await clock.advance(0);
  t.equal(names.filter((n) => log.sm.executionsOf(n)?.[0]?.state === 'succeeded').length, 3000, 'every execution ran and succeeded');
  await d.shutdown();
});

t.test('planned ahead, committed when due: nothing is committed before the second, and it is committed at it', async (t) => {
  const { clock, log, d } = setup();
  log.apply({ type: CommandType.PutJob, atMs: clock.nowMs, job: job('a', { schedule: '@every 10s' }) });
  d.startLeading();
  await clock.advance(10_000 - 1);
  t.equal(log.of(CommandType.RecordFires).length, 0, 'planned, not committed, a millisecond before');
  await clock.advance(1);
  const [c] = log.of(CommandType.RecordFires) as RecordFires[];
  t.equal(c?.atMs, 1_010_000, 'committed at the second');
  t.same(log.fires('a').map((x) => x - 1_000_000), [10_000]);
  t.equal(log.sm.executionsOf('a')?.[0]?.startedAtMs, 1_010_000);
  await d.shutdown();
});

t.test('a job edited while its fire is planned ahead: the old plan is not committed, the new schedule follows', async (t) => {
  const { clock, log, d } = setup();
  log.apply({ type: CommandType.PutJob, atMs: clock.nowMs, job: job('a', { schedule: '@every 10s' }) });
  d.startLeading();
  await clock.advance(9_800); // planned for 10 s
  log.apply({ type: CommandType.PutJob, atMs: clock.nowMs, job: job('a', { schedule: '@every 4s' }) });
  await clock.advance(200);
  t.same(log.fires('a'), [], 'the plan for the old schedule was dropped');
  await clock.advance(4000);
  t.same(log.fires('a').map((x) => x - 1_000_000), [13_800], 'the new schedule, from the edit');
  await d.shutdown();
});

t.test('a job whose counters change while its fire is planned ahead fires once, as planned', async (t) => {
  const { clock, log, d } = setup();
  log.apply({ type: CommandType.PutJob, atMs: clock.nowMs, job: job('a', { schedule: '@every 10s' }) });
  log.apply({ type: CommandType.PutJob, atMs: clock.nowMs, job: job('b', { schedule: '@manually' }) });
  d.startLeading();
  await d.runNow('a'); // a manual run: its result changes a's counters while its fire is held
  await clock.advance(9_900);
  await clock.advance(100);
  t.same(log.fires('a').map((x) => x - 1_000_000), [10_000], 'fired once at 10 s');
  t.equal(log.sm.job('a')?.successCount, 2);
  await d.shutdown();
});

t.test('a job deleted while its fire is planned ahead is not fired', async (t) => {
  const { clock, log, d } = setup();
  log.apply({ type: CommandType.PutJob, atMs: clock.nowMs, job: job('a', { schedule: '@every 10s' }) });
  d.startLeading();
  await clock.advance(9_900);
  log.apply({ type: CommandType.DeleteJob, atMs: clock.nowMs, name: 'a' });
  await clock.advance(20_000);
  t.equal(log.of(CommandType.RecordFires).length, 0);
  await d.shutdown();
});

t.test('a leader that stops leading while fires are planned ahead commits none; leading again fires each second once', async (t) => {
  const { clock, log, d } = setup();
  log.apply({ type: CommandType.PutJob, atMs: clock.nowMs, job: job('a', { schedule: '@every 10s' }) });
  d.startLeading();
  await clock.advance(9_900);
  d.stopLeading();
  await clock.advance(200);
  t.equal(log.of(CommandType.RecordFires).length, 0, 'nothing committed after stepping down');
  d.startLeading();
  await clock.advance(0);
  await clock.advance(10_000);
  t.same(log.fires('a').map((x) => x - 1_000_000), [10_000, 20_000], 'the missed second caught up once, then on time');
  await d.shutdown();
});

t.test('2,500 jobs due on one second are planned over several turns and all fire once, at the second', async (t) => {
  const { clock, log, d } = setup();
  for (let i = 0; i < 2500; i++) log.apply({ type: CommandType.PutJob, atMs: clock.nowMs, job: job(`j${i}`, { schedule: '@every 10s' }) });
  d.startLeading();
  await clock.advance(10_000 - 1);
  t.equal(log.of(CommandType.RecordFires).length, 0);
  await clock.advance(1);
  const fires = log.fires();
  t.equal(fires.length, 2500, 'every job once');
  t.ok(fires.every((f) => f === 1_010_000));
  t.ok((log.of(CommandType.RecordFires) as RecordFires[]).every((c) => c.atMs === 1_010_000), 'each command committed at the second');
  await d.shutdown();
});

t.test('the plan (with its targets) is made planAheadMs before the second; at the second only the commit is left', async (t) => {
  const clock = new FakeClock();
  const log = new MemoryLog();
  const host: ExecutorHost = { execute: () => Promise.resolve({ success: true, exitCode: 0, error: '' }), executors: () => ['noop'] };
  const chosenAt: number[] = [];
  const chooser = { forFire: () => { chosenAt.push(clock.nowMs); return ['n1']; }, forStart: () => 'n1', resume: () => false };
  const d = new Dispatcher({ nodeName: 'n1', state: log.sm, log, host, now: () => clock.nowMs, outputLimit: 1024, timers: clock, chooser, planAheadMs: 300 });
  log.apply({ type: CommandType.PutJob, atMs: clock.nowMs, job: job('a', { schedule: '@every 10s' }) });
  d.startLeading();
  await clock.advance(9_700);
  t.same(chosenAt.map((x) => x - 1_000_000), [9_700], 'targets chosen 300 ms before');
  t.equal(log.of(CommandType.RecordFires).length, 0);
  await clock.advance(300);
  t.same(log.fires('a').map((x) => x - 1_000_000), [10_000], 'committed at the second');
  await d.shutdown();
});

t.test('retries due together whose start the log refuses as too large are started in halves, each once', async (t) => {
  let calls = 0;
  const { clock, log, d } = setup(async () => {
    calls++;
    return calls <= 200 ? { success: false, exitCode: 1, error: 'exit status 1' } : { success: true, exitCode: 0, error: '' };
  });
  for (let i = 0; i < 200; i++) log.apply({ type: CommandType.PutJob, atMs: clock.nowMs, job: job(`r${i}`, { schedule: '@manually', retries: 1 }) });
  d.startLeading();
  for (let i = 0; i < 200; i++) await d.runNow(`r${i}`);
  await clock.advance(0);
  log.maxBytes = 3000;
  await clock.advance(retryBackoffMs(1));
  t.ok(log.tooLarge > 0, 'the log refused a command as too large');
  t.ok(log.of(CommandType.StartExecutions).length > 2, 'the starts went in smaller commands');
  for (let i = 0; i < 200; i++) {
    const attempts = (log.sm.executionsOf(`r${i}`) ?? []).map((e) => [e.attempt, e.state]).sort();
    if (attempts.length !== 2 || attempts[1]?.[1] !== 'succeeded') t.fail(`r${i}: ${JSON.stringify(attempts)}`);
  }
  t.equal(calls, 400, 'every retry ran once');
  await d.shutdown();
});
