// A schedule in words, for people (the UI's job page, the preview endpoint):
// cron expressions by cronstrue, in 24-hour time, with the zone they run in;
// `@every`, `@at` and `@manually` in our own words. Pure: the same parsed
// schedule the planner fires by, so the words describe what will fire.

import cronstrue from 'cronstrue';
import type { Schedule } from './schedule.js';

const units: readonly [number, string][] = [[86_400_000, 'day'], [3_600_000, 'hour'], [60_000, 'minute'], [1000, 'second'], [1, 'millisecond']];

/** 90,000 ms -> "1 minute 30 seconds". */
export function durationInWords(ms: number): string {
  const parts: string[] = [];
  let left = ms;
  for (const [size, name] of units) {
    const n = Math.floor(left / size);
    if (n === 0) continue;
    parts.push(`${n} ${name}${n === 1 ? '' : 's'}`);
    left -= n * size;
  }
  return parts.length === 0 ? '0 seconds' : parts.join(' ');
}

export function describeSchedule(schedule: Schedule, timeZone: string): string {
  switch (schedule.kind) {
    case 'manually':
      return 'Only when run by hand, through the API, or after an upstream job';
    case 'at':
      return `Once, at ${new Date(schedule.atMs).toISOString().replace('.000Z', 'Z')}`;
    case 'every':
      return `Every ${durationInWords(schedule.everyMs)}, counted from when the schedule was set`;
    case 'cron': {
      const zone = schedule.zone ?? (timeZone === '' ? 'UTC' : timeZone);
      let words: string;
      try {
        words = cronstrue.toString(schedule.fields, { use24HourTimeFormat: true, throwExceptionOnParseError: true });
      } catch {
        // cronstrue reads less than cron-parser does (a rare form): show the fields themselves.
        words = `Cron ${schedule.fields}`;
      }
      return `${words} (${zone} time)`;
    }
  }
}
