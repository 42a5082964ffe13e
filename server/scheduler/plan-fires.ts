// The due-fire planner (pure): given a job's schedule, its bookkeeping (the
// last scheduled time already settled) and the time now, which scheduled
// times run now, which are skipped for good (and why), and when to look next.
//
// In steady state the dispatcher wakes just after each fire time and this
// returns that one fire. After downtime (or a leader change) the scheduled
// times that fell due meanwhile follow the job's catch-up policy:
// - latest: run the newest, skip the others as `superseded`;
// - all: run the newest `max`, skip older ones as `over_cap`;
// - none: run only a fire that is on time (at most `onTimeGraceMs` late),
//   skip the rest as `catch_up_none`.
// Whatever the policy, a fire older than the starting deadline is skipped as
// `past_deadline`. Skips come as ranges with a count, never one record per
// time: a week of `@every 1s` is 604,800 fires, counted arithmetically. For
// cron schedules the walk is bounded (`maxWalk`); past that, the skipped
// range's count is a lower bound.

import type { CatchUpPolicy } from '../state/job.js';
import type { SkipReason } from '../state/execution.js';
import { nextFire, type Schedule } from './schedule.js';

/** A fire at most this late counts as on time, even under catch-up policy `none`. */
export const onTimeGraceMs = 5_000;
/** Cron fires enumerated at most per plan. */
export const maxWalk = 20_000;

export interface DueInput {
  readonly schedule: Schedule;
  readonly timeZone: string;
  readonly anchorMs: number;
  readonly lastScheduledMs: number;
  readonly startsAtMs: number | null;
  readonly expiresAtMs: number | null;
  readonly catchUp: CatchUpPolicy;
}

export interface SkippedRange {
  readonly firstMs: number;
  readonly lastMs: number;
  readonly count: number;
  readonly reason: SkipReason;
}

export interface DuePlan {
  /** Scheduled times to fire now, ascending. */
  readonly run: number[];
  readonly skipped: SkippedRange[];
  /** The latest scheduled time this plan settles (run or skipped); null when nothing was due. */
  readonly settledUpTo: number | null;
  /** The first scheduled time after now (the next wake-up), or null if none. */
  readonly next: number | null;
}

/** The first scheduled time strictly after `afterMs` that the job may run at (starts_at / expires_at). */
export function firstAfter(input: DueInput, afterMs: number): number | null {
  const { schedule, timeZone, anchorMs, startsAtMs, expiresAtMs } = input;
  const from = startsAtMs !== null ? Math.max(afterMs, startsAtMs - 1) : afterMs;
  const t = nextFire(schedule, from, timeZone, anchorMs);
  if (t === null || (expiresAtMs !== null && t > expiresAtMs)) return null;
  return t;
}

export function dueFires(input: DueInput, nowMs: number): DuePlan {
  const due = dueTimes(input, nowMs);
  const next = firstAfter(input, nowMs);
  if (due.count === 0) return { run: [], skipped: [], settledUpTo: null, next };

  const { mode, max, startingDeadlineMs } = input.catchUp;
  const run: number[] = [];
  const skipped: SkippedRange[] = [];
  // `due.latest` is ascending and holds the newest times; older ones are the range `due.older`.
  const eligible = (t: number) => nowMs - t <= startingDeadlineMs;
  const keep = mode === 'latest' ? 1 : mode === 'all' ? max : 1;
  const candidates = due.latest.filter((t) => eligible(t) && (mode !== 'none' || nowMs - t <= onTimeGraceMs));
  const chosen = new Set(candidates.slice(-keep));
  const olderReason: SkipReason = mode === 'latest' ? 'superseded' : mode === 'all' ? 'over_cap' : 'catch_up_none';
  if (due.older) skipped.push({ ...due.older, reason: eligible(due.older.lastMs) ? olderReason : 'past_deadline' });
  for (const t of due.latest) {
    if (chosen.has(t)) run.push(t);
    else addSkip(skipped, t, eligible(t) ? olderReason : 'past_deadline');
  }
  return { run, skipped, settledUpTo: due.lastMs, next };
}

function addSkip(ranges: SkippedRange[], t: number, reason: SkipReason): void {
  const last = ranges[ranges.length - 1];
  if (last && last.reason === reason) ranges[ranges.length - 1] = { ...last, lastMs: t, count: last.count + 1 };
  else ranges.push({ firstMs: t, lastMs: t, count: 1, reason });
}

interface DueTimes {
  count: number;
  lastMs: number;
  /** The newest due times, ascending (enough for any policy). */
  latest: number[];
  /** All due times before `latest`, as one range (they can only be skipped). */
  older: { firstMs: number; lastMs: number; count: number } | null;
}

/** The scheduled times in (lastScheduled, now] the job may run at. */
function dueTimes(input: DueInput, nowMs: number): DueTimes {
  const keepLatest = Math.max(1, input.catchUp.mode === 'all' ? input.catchUp.max : 1) + 1;
  const end = input.expiresAtMs !== null ? Math.min(nowMs, input.expiresAtMs) : nowMs;
  const s = input.schedule;
  if (s.kind === 'every') {
    const first = firstAfter(input, input.lastScheduledMs);
    if (first === null || first > end) return { count: 0, lastMs: 0, latest: [], older: null };
    const count = Math.floor((end - first) / s.everyMs) + 1;
    const lastMs = first + (count - 1) * s.everyMs;
    const n = Math.min(count, keepLatest);
    const latest = Array.from({ length: n }, (_, i) => lastMs - (n - 1 - i) * s.everyMs);
    const older = count > n ? { firstMs: first, lastMs: lastMs - n * s.everyMs, count: count - n } : null;
    return { count, lastMs, latest, older };
  }
  const all: number[] = [];
  let olderCount = 0;
  let olderFirst = 0;
  let olderLast = 0;
  let walked = 0;
  for (let t = firstAfter(input, input.lastScheduledMs); t !== null && t <= end; t = firstAfter(input, t)) {
    all.push(t);
    if (all.length > keepLatest) {
      const dropped = all.shift() as number;
      if (olderCount === 0) olderFirst = dropped;
      olderLast = dropped;
      olderCount++;
    }
    if (++walked >= maxWalk && t < end) {
      // Too many to walk: count what was walked, and jump to the newest times before now.
      const newest: number[] = [];
      let back = end;
      for (let i = 0; i < keepLatest; i++) {
        const before = newestAtOrBefore(input, back, t);
        if (before === null) break;
        newest.unshift(before);
        back = before - 1;
      }
      const skippedCount = olderCount + all.length;
      const firstSkipped = olderCount > 0 ? olderFirst : all[0] ?? t;
      return {
        count: skippedCount + newest.length,
        lastMs: newest[newest.length - 1] ?? t,
        latest: newest,
        older: { firstMs: firstSkipped, lastMs: (newest[0] ?? t + 1) - 1, count: skippedCount },
      };
    }
  }
  const lastMs = all[all.length - 1];
  if (lastMs === undefined) return { count: 0, lastMs: 0, latest: [], older: null };
  return {
    count: olderCount + all.length,
    lastMs,
    latest: all,
    older: olderCount > 0 ? { firstMs: olderFirst, lastMs: olderLast, count: olderCount } : null,
  };
}

/** The newest scheduled time in (floor, atMost], found by stepping back in widening windows. */
function newestAtOrBefore(input: DueInput, atMost: number, floor: number): number | null {
  for (let window = 60_000; ; window *= 4) {
    const from = Math.max(floor, atMost - window);
    let best: number | null = null;
    for (let t = firstAfter(input, from); t !== null && t <= atMost; t = firstAfter(input, t)) best = t;
    if (best !== null) return best;
    if (from === floor) return null;
  }
}
