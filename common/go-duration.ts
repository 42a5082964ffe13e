// Go's time.ParseDuration syntax ("1h30m", "1.5s", "500ms"), as Dkron uses it
// for `@every`, the shell executor's `timeout` and its flags. The one parser
// for server, agent and plugins.

const unitMs: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const part = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

export class DurationError extends Error {
  override readonly name = 'DurationError';
  readonly code = 'CT_DURATION_INVALID';
}

/** Milliseconds in a Go duration; throws DurationError saying what is wrong. */
export function parseGoDurationMs(text: string): number {
  const s = text.trim();
  if (s === '0') return 0;
  if (s === '') throw new DurationError('empty duration: use e.g. 30s, 5m, 1h30m');
  if (s.startsWith('-')) throw new DurationError(`negative duration "${text}"`);
  let i = s.startsWith('+') ? 1 : 0;
  if (i >= s.length) throw new DurationError(`"${text}" is not a duration: use a number with a unit, e.g. 30s, 5m, 1h30m`);
  let total = 0;
  while (i < s.length) {
    part.lastIndex = i;
    const m = part.exec(s);
    if (!m?.[1] || !m[2]) throw new DurationError(`"${text}" is not a duration: use a number with a unit, e.g. 30s, 5m, 1h30m`);
    total += Number(m[1]) * (unitMs[m[2]] ?? Number.NaN);
    i = part.lastIndex;
  }
  if (!Number.isFinite(total)) throw new DurationError(`"${text}" is out of range`);
  return total;
}
