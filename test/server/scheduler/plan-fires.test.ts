import t from 'tap';
import { dueFires, parseSchedule, type DueInput } from '../../../server/scheduler/index.js';
import type { CatchUpPolicy } from '../../../server/state/job.js';

const H = 3_600_000;
const T0 = Date.parse('2026-06-01T00:00:00Z');

function input(spec: string, lastScheduledMs: number, catchUp: Partial<CatchUpPolicy> = {}, over: Partial<DueInput> = {}): DueInput {
  return {
    schedule: parseSchedule(spec, 'job'), timeZone: '', anchorMs: T0, lastScheduledMs, startsAtMs: null, expiresAtMs: null,
    catchUp: { mode: 'latest', max: 10, startingDeadlineMs: H, ...catchUp }, ...over,
  };
}

t.test('steady state: exactly the one due fire', async (t) => {
  const plan = dueFires(input('@every 1s', T0 + 4000), T0 + 5003);
  t.same(plan, { run: [T0 + 5000], skipped: [], settledUpTo: T0 + 5000, next: T0 + 6000 });
  const none = dueFires(input('@every 1s', T0 + 5000), T0 + 5500);
  t.same(none.run, []);
  t.equal(none.settledUpTo, null);
  t.equal(none.next, T0 + 6000);
});

t.test('latest: the newest missed fire runs, older ones are superseded', async (t) => {
  const plan = dueFires(input('0 * * * * *', T0, { mode: 'latest' }), T0 + 10 * 60_000 + 500);
  t.same(plan.run, [T0 + 10 * 60_000]);
  t.same(plan.skipped, [{ firstMs: T0 + 60_000, lastMs: T0 + 9 * 60_000, count: 9, reason: 'superseded' }]);
  t.equal(plan.settledUpTo, T0 + 10 * 60_000);
});

t.test('all: up to max newest run, older over the cap', async (t) => {
  const plan = dueFires(input('0 * * * * *', T0, { mode: 'all', max: 3 }), T0 + 10 * 60_000);
  t.same(plan.run, [T0 + 8 * 60_000, T0 + 9 * 60_000, T0 + 10 * 60_000]);
  t.same(plan.skipped, [{ firstMs: T0 + 60_000, lastMs: T0 + 7 * 60_000, count: 7, reason: 'over_cap' }]);
});

t.test('none: only an on-time fire runs', async (t) => {
  const late = dueFires(input('0 * * * * *', T0, { mode: 'none' }), T0 + 3 * 60_000 + 30_000);
  t.same(late.run, []);
  t.same(late.skipped, [{ firstMs: T0 + 60_000, lastMs: T0 + 3 * 60_000, count: 3, reason: 'catch_up_none' }]);
  const onTime = dueFires(input('0 * * * * *', T0, { mode: 'none' }), T0 + 60_000 + 20);
  t.same(onTime.run, [T0 + 60_000]);
});

t.test('the starting deadline wins over any policy', async (t) => {
  const plan = dueFires(input('@hourly', T0, { mode: 'all', max: 10, startingDeadlineMs: 90 * 60_000 }), T0 + 5 * H);
  t.same(plan.run, [T0 + 4 * H, T0 + 5 * H]);
  t.same(plan.skipped, [{ firstMs: T0 + H, lastMs: T0 + 3 * H, count: 3, reason: 'past_deadline' }]);
  const stale = dueFires(input('@daily', T0, { startingDeadlineMs: H }), T0 + 24 * H + 2 * H);
  t.same(stale.run, []);
  t.same(stale.skipped, [{ firstMs: T0 + 24 * H, lastMs: T0 + 24 * H, count: 1, reason: 'past_deadline' }]);
});

t.test('a week of @every 1s is counted, not walked', async (t) => {
  const week = 7 * 24 * H;
  const start = performance.now();
  const plan = dueFires(input('@every 1s', T0, { startingDeadlineMs: 10 * week }), T0 + week);
  t.ok(performance.now() - start < 50, 'fast');
  t.same(plan.run, [T0 + week]);
  const total = plan.skipped.reduce((n, s) => n + s.count, 0);
  t.equal(total + 1, 604_800, 'every missed second is accounted for');
});

t.test('a long outage of a per-second cron is bounded', async (t) => {
  const day = 24 * H;
  const plan = dueFires(input('* * * * * *', T0, { startingDeadlineMs: 10 * day }), T0 + day);
  t.same(plan.run, [T0 + day]);
  t.ok(plan.skipped[0]!.count >= 20_000, 'count is at least what was walked');
  t.equal(plan.settledUpTo, T0 + day);
});

t.test('starts_at and expires_at', async (t) => {
  const starts = dueFires(input('@every 1m', T0, {}, { startsAtMs: T0 + 10 * 60_000 }), T0 + 5 * 60_000);
  t.same(starts.run, []);
  t.equal(starts.next, T0 + 10 * 60_000, 'not before starts_at');
  const expired = dueFires(input('@every 1m', T0 + 9 * 60_000, {}, { expiresAtMs: T0 + 10 * 60_000 }), T0 + 12 * 60_000);
  t.same(expired.run, [T0 + 10 * 60_000]);
  t.equal(expired.next, null, 'nothing after expires_at');
});
