// Schedules: parse a job's `schedule` once, then answer "the first fire
// strictly after t" cheaply.
//
// Formats (Dkron's): 6-field cron with seconds, the 5-field form (seconds 0),
// an optional `CRON_TZ=Zone ` / `TZ=Zone ` prefix, descriptors (@yearly …
// @hourly, @minutely), `@every <Go duration>`, `@at <RFC3339>`, `@manually`,
// and the `~` hash. Cron evaluation is cron-parser's.
//
// Daylight saving follows cronie's rule, and is a decision, not an accident:
// - A job at fixed hours (the hour field has no `*` and no step): a wall time
//   that the clock skips (spring forward) runs once, at the instant of the
//   jump (02:30 in Berlin's gap runs at 03:00 local); a wall time that
//   happens twice (fall back) runs once, at its first occurrence.
// - A job whose hour field is `*` or a step runs in real time: it fires on
//   both passes of a repeated hour, and wall times in a gap do not exist.
// cron-parser by itself already gives "first occurrence" for fixed hours and
// "both passes" for the rest; in a gap it moves a fixed-hour fire one hour
// later (02:30 -> 03:30), which nextFire corrects to the jump (03:00).
//
// `@every d` fires at anchor + k*d (k >= 1), the anchor being the time the
// schedule was set, so it keeps its phase across restarts and leader changes.

import { CronExpressionParser, type CronExpression } from 'cron-parser';
import { parseGoDurationMs } from './go-duration.js';
import { ScheduleError } from './schedule-error.js';
import { hashFields } from './schedule-hash.js';
import { offsetMs, transitionBetween, validateTimeZone, zoneOrUtc } from './time-zone.js';

export type Schedule =
  | { readonly kind: 'cron'; readonly fields: string; readonly fixedHours: boolean; readonly zone: string | null; readonly cache: Map<string, CronExpression> }
  | { readonly kind: 'every'; readonly everyMs: number }
  | { readonly kind: 'at'; readonly atMs: number }
  | { readonly kind: 'manually' };

const descriptors: Readonly<Record<string, string>> = {
  '@yearly': '0 0 0 1 1 *',
  '@annually': '0 0 0 1 1 *',
  '@monthly': '0 0 0 1 * *',
  '@weekly': '0 0 0 * * 0',
  '@daily': '0 0 0 * * *',
  '@midnight': '0 0 0 * * *',
  '@hourly': '0 0 * * * *',
  '@minutely': '0 * * * * *',
};

const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/** Parse a schedule; throws ScheduleError saying what is wrong. */
export function parseSchedule(spec: string, jobName: string): Schedule {
  let text = spec.trim();
  if (text === '') throw new ScheduleError('the schedule is empty');
  let zone: string | null = null;
  const prefix = /^(CRON_TZ|TZ)=(\S+)\s+/.exec(text);
  if (prefix?.[2]) {
    zone = prefix[2];
    validateTimeZone(zone);
    text = text.slice(prefix[0].length);
  }
  if (text.startsWith('@')) {
    const [word = '', ...rest] = text.split(/\s+/);
    const arg = rest.join(' ');
    switch (word.toLowerCase()) {
      case '@manually':
        return { kind: 'manually' };
      case '@every': {
        if (arg === '') throw new ScheduleError('@every needs a duration, e.g. "@every 30s"');
        let ms: number;
        try {
          ms = parseGoDurationMs(arg);
        } catch (err) {
          throw new ScheduleError(`@every: ${(err as Error).message}`);
        }
        ms = Math.floor(ms / 1000) * 1000; // sub-second precision is dropped, as Dkron
        if (ms < 1000) throw new ScheduleError(`@every ${arg}: the shortest interval is 1s`);
        if (ms > maxEveryMs) throw new ScheduleError(`@every ${arg}: the longest interval is 876000h (100 years)`);
        return { kind: 'every', everyMs: ms };
      }
      case '@at': {
        const atMs = rfc3339.test(arg) ? Date.parse(arg) : Number.NaN;
        if (Number.isNaN(atMs)) throw new ScheduleError(`@at needs an RFC3339 time such as 2026-12-31T23:59:00Z, not "${arg}"`);
        return { kind: 'at', atMs };
      }
      default: {
        const fields = descriptors[word.toLowerCase()];
        if (!fields || arg !== '') throw new ScheduleError(`unknown descriptor "${text}": use @yearly, @monthly, @weekly, @daily, @hourly, @minutely, @every, @at or @manually`);
        return cron(fields, zone);
      }
    }
  }
  let fields = text.split(/\s+/);
  if (fields.length === 5) fields = ['0', ...fields];
  if (fields.length !== 6) {
    throw new ScheduleError(`"${spec}" has ${fields.length} fields: a cron schedule has 6 (sec min hour day-of-month month day-of-week) or 5 (without seconds)`);
  }
  return cron(hashFields(fields, jobName).join(' '), zone);
}

function cron(fields: string, zone: string | null): Schedule {
  try {
    CronExpressionParser.parse(fields, { tz: 'UTC', strict: false });
  } catch (err) {
    throw new ScheduleError(`can't parse job schedule "${fields}": ${(err as Error).message}`);
  }
  const hour = fields.split(' ')[2] ?? '*';
  return { kind: 'cron', fields, fixedHours: !hour.includes('*') && !hour.includes('/'), zone, cache: new Map() };
}

function expression(s: Extract<Schedule, { kind: 'cron' }>, zone: string): CronExpression {
  let e = s.cache.get(zone);
  if (!e) {
    e = CronExpressionParser.parse(s.fields, { tz: zone, currentDate: new Date(0) });
    s.cache.set(zone, e);
  }
  return e;
}

/**
 * The first fire strictly after `afterMs`, or null if there is none. The
 * job's `timeZone` ("" = UTC) applies unless the schedule names its own.
 */
/** The longest `@every`: 100 years, far inside what a time can represent. */
const maxEveryMs = 100 * 365 * 24 * 3600_000;
/** The last instant a JavaScript Date (and an RFC3339 answer) can hold. */
const maxTimeMs = 8.64e15;

export function nextFire(schedule: Schedule, afterMs: number, timeZone: string, anchorMs: number): number | null {
  switch (schedule.kind) {
    case 'manually':
      return null;
    case 'at':
      return schedule.atMs > afterMs ? schedule.atMs : null;
    case 'every': {
      const k = Math.max(1, Math.floor((afterMs - anchorMs) / schedule.everyMs) + 1);
      const next = anchorMs + k * schedule.everyMs;
      return next <= maxTimeMs ? next : null;
    }
    case 'cron':
      return nextCron(schedule, afterMs, zoneOrUtc(schedule.zone ?? timeZone));
  }
}

function nextCron(s: Extract<Schedule, { kind: 'cron' }>, afterMs: number, zone: string): number | null {
  const e = expression(s, zone);
  e.reset(new Date(afterMs));
  for (let guard = 0; guard < 8; guard++) {
    let t: number;
    try {
      t = e.next().getTime();
    } catch {
      return null; // no further match (e.g. Feb 30)
    }
    if (!s.fixedHours) return t;
    const moved = gapJump(zone, t, e);
    if (moved === null) return t;
    if (moved > afterMs) return moved;
    // Several fixed times fell into one gap: they all ran at the jump already.
    e.reset(new Date(t));
  }
  return null;
}

/**
 * If cron-parser moved a fixed-hour fire out of a DST gap (its wall time did
 * not exist), the instant of the jump; otherwise null. A moved fire shows a
 * local hour its hour field does not allow, shortly after a transition where
 * the offset grew.
 */
function gapJump(zone: string, t: number, e: CronExpression): number | null {
  const after = offsetMs(zone, t);
  const localHour = Math.floor((((t + after) % 86_400_000) + 86_400_000) % 86_400_000 / 3_600_000);
  if ((e.fields.hour.values as readonly number[]).includes(localHour)) return null;
  const lookBack = 3 * 3_600_000;
  if (after <= offsetMs(zone, t - lookBack)) return null;
  const jump = transitionBetween(zone, t - lookBack, t);
  const shift = after - offsetMs(zone, jump - 1000);
  // The wall time asked for was t - shift in the new offset: inside the gap iff that is before the jump.
  return t - shift < jump ? jump : null;
}

export { validateTimeZone };
