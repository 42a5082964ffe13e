// Parses the Prometheus text exposition format (version 0.0.4) strictly
// enough for tests: every line must be a comment or a well-formed sample.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly samples: readonly Sample[];
  /** Metric family name -> type from its # TYPE line. */
  readonly types: ReadonlyMap<string, string>;
  /** The value of the sample with this name and exactly these labels (0 when absent, as Prometheus treats an unset counter). */
  value(name: string, labels?: Readonly<Record<string, string>>): number;
  /** Whether a sample with this name and these labels exists. */
  has(name: string, labels?: Readonly<Record<string, string>>): boolean;
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)(?: -?\d+)?$/;
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;

export function parsePrometheusText(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (m?.[1] && m[2]) types.set(m[1], m[2]);
      else if (!/^# HELP \S+ /.test(line)) throw new Error(`line ${i + 1}: bad comment: ${line}`);
      continue;
    }
    const m = sampleLine.exec(line);
    if (!m?.[1] || m[3] === undefined) throw new Error(`line ${i + 1}: not a sample: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    labelPair.lastIndex = 0;
    while (labelPair.lastIndex < body.length) {
      const at = labelPair.lastIndex;
      const l = labelPair.exec(body);
      if (!l?.[1] || l[2] === undefined) throw new Error(`line ${i + 1}: bad labels at ${at}: ${line}`);
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  const matches = (s: Sample, name: string, labels: Readonly<Record<string, string>>) =>
    s.name === name && Object.keys(s.labels).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => s.labels[k] === v);
  return {
    samples,
    types,
    value: (name, labels = {}) => samples.find((s) => matches(s, name, labels))?.value ?? 0,
    has: (name, labels = {}) => samples.some((s) => matches(s, name, labels)),
  };
}
