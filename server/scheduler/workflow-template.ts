// Templates in executor_config strings: `{{ .Params.KEY }}`, `{{ .Run.ID }}`,
// `{{ .Job.Name }}`, `{{ .ScheduledTime }}` (RFC3339), rendered when a task
// is dispatched. An unknown key of ours (`.Params.X` not given, `.Run.X`,
// `.Job.X`) is an error naming it; anything else in braces (a Go template in a
// shell command, such as docker's `--format '{{.State.Status}}'`) is left as
// it is, so a Dkron job's text runs unchanged. Pure.

export interface TemplateContext {
  readonly params: Readonly<Record<string, string>>;
  readonly runId: string;
  readonly jobName: string;
  readonly scheduledAtMs: number;
}

const placeholder = /\{\{\s*\.([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}/g;

/** The text with every placeholder filled in, or the first unknown key. */
export function renderTemplate(text: string, ctx: TemplateContext): { text: string } | { error: string } {
  if (!text.includes('{{')) return { text };
  let unknown: string | null = null;
  const out = text.replace(placeholder, (whole, key: string) => {
    if (!ours(key)) return whole;
    const value = lookup(key, ctx);
    if (value === undefined) {
      unknown ??= key;
      return whole;
    }
    return value;
  });
  if (unknown !== null) return { error: `unknown template key .${String(unknown)}` };
  return { text: out };
}

/** The keys Clocktower fills in: `.Params.*`, `.Run.*`, `.Job.*`, `.ScheduledTime`. */
function ours(key: string): boolean {
  return key === 'ScheduledTime' || key.startsWith('Params.') || key.startsWith('Run.') || key.startsWith('Job.');
}

function lookup(key: string, ctx: TemplateContext): string | undefined {
  if (key.startsWith('Params.')) {
    const name = key.slice('Params.'.length);
    return Object.hasOwn(ctx.params, name) ? ctx.params[name] : undefined;
  }
  if (key === 'Run.ID') return ctx.runId;
  if (key === 'Job.Name') return ctx.jobName;
  if (key === 'ScheduledTime') return new Date(ctx.scheduledAtMs).toISOString();
  return undefined;
}

/** Every string of a config rendered, or the first error naming the key it is under. */
export function renderConfig(config: Readonly<Record<string, string>>, ctx: TemplateContext): { config: Record<string, string> } | { error: string } {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) {
    const r = renderTemplate(v, ctx);
    if ('error' in r) return { error: `executor_config.${k}: ${r.error}` };
    out[k] = r.text;
  }
  return { config: out };
}

/** `::set-param KEY=VALUE` lines of an output, later ones winning. */
export function paramsFromOutput(output: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of output.matchAll(/^::set-param ([A-Za-z_][A-Za-z0-9_]*)=(.*?)\r?$/gm)) {
    if (m[1] !== undefined) out[m[1]] = m[2] ?? '';
  }
  return out;
}
