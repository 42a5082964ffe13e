// Go's duration syntax ("1h30m", "1.5s", "500ms"), which Dkron's executor
// configs use (e.g. the shell executor's `timeout`). For plugin authors too.

const unitMs: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const part = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Milliseconds in a Go duration; throws an Error saying what is wrong. */
export function parseGoDurationMs(text: string): number {
  const s = text.trim();
  if (s === '0') return 0;
  if (s.startsWith('-')) throw new Error(`negative duration "${text}"`);
  let total = 0;
  let i = s.startsWith('+') ? 1 : 0;
  if (i >= s.length) throw new Error(`"${text}" is not a duration: use e.g. 30s, 5m, 1h30m`);
  while (i < s.length) {
    part.lastIndex = i;
    const m = part.exec(s);
    if (!m?.[1] || !m[2]) throw new Error(`"${text}" is not a duration: use e.g. 30s, 5m, 1h30m`);
    total += Number(m[1]) * (unitMs[m[2]] ?? Number.NaN);
    i = part.lastIndex;
  }
  return total;
}
