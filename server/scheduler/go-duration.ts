// Go's time.ParseDuration syntax ("1h30m", "1.5s", "500ms"), as Dkron's
// `@every` and shell `timeout` use it.

import { ScheduleError } from './schedule-error.js';

const unitMs: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const part = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Milliseconds in a Go duration string; throws ScheduleError on anything else. */
export function parseGoDurationMs(text: string): number {
  const s = text.trim();
  if (s === '0') return 0;
  if (s === '') throw new ScheduleError('empty duration', 'duration');
  let i = s.startsWith('-') || s.startsWith('+') ? 1 : 0;
  if (s[0] === '-') throw new ScheduleError(`negative duration "${text}"`, 'duration');
  let total = 0;
  while (i < s.length) {
    part.lastIndex = i;
    const m = part.exec(s);
    if (!m || m[1] === undefined || m[2] === undefined) {
      throw new ScheduleError(`"${text}" is not a duration: use a number with a unit, e.g. 30s, 5m, 1h30m`, 'duration');
    }
    total += Number(m[1]) * (unitMs[m[2]] ?? Number.NaN);
    i = part.lastIndex;
  }
  if (!Number.isFinite(total)) throw new ScheduleError(`"${text}" is out of range`, 'duration');
  return total;
}
