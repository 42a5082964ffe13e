// The part of Go's text/template that Dkron's notification payloads use:
// `{{.Variable}}`, with spaces inside the braces (`{{ .JobName }}`) and Go's
// trim markers (`{{- .Output -}}` drops the white space beside the action).
// Anything else between `{{` and `}}` (pipelines, if, range) and any
// variable not in the list is an error at load or save time, never a
// surprise at delivery time. Pure.

/** Dkron's template variables, and Clocktower's few more. */
export const templateVariables = [
  'Report', 'JobName', 'ReportingNode', 'StartTime', 'FinishedAt', 'Success', 'NodeName', 'Output',
  'ExecutionID', 'State', 'ExitCode', 'Error', 'Attempt', 'Event',
] as const;
export type TemplateVariable = (typeof templateVariables)[number];
export type TemplateValues = Readonly<Record<TemplateVariable, string>>;

type Part = { readonly text: string } | { readonly variable: TemplateVariable };

export interface Template {
  readonly source: string;
  readonly parts: readonly Part[];
}

export class TemplateError extends Error {
  override readonly name = 'TemplateError';
  readonly code = 'CT_NOTIFY_TEMPLATE_INVALID';
}

const known = new Set<string>(templateVariables);

/** Parse a template; throws TemplateError naming the problem. */
export function parseTemplate(source: string): Template {
  const parts: Part[] = [];
  let text = '';
  let at = 0;
  while (at < source.length) {
    const open = source.indexOf('{{', at);
    if (open < 0) {
      text += source.slice(at);
      break;
    }
    const close = source.indexOf('}}', open + 2);
    if (close < 0) throw new TemplateError(`unclosed action "{{" at character ${open + 1}`);
    let inner = source.slice(open + 2, close);
    text += source.slice(at, open);
    at = close + 2;
    // Go's trim markers: "{{- " trims white space before, " -}}" after.
    if (/^-\s/.test(inner)) {
      text = text.replace(/\s+$/, '');
      inner = inner.slice(1);
    }
    let trimAfter = false;
    if (/\s-$/.test(inner)) {
      trimAfter = true;
      inner = inner.slice(0, -1);
    }
    const action = inner.trim();
    const m = /^\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(action);
    if (!m?.[1]) {
      throw new TemplateError(`{{${inner}}}: only {{.Variable}} is supported (variables: ${templateVariables.map((v) => `.${v}`).join(' ')})`);
    }
    if (!known.has(m[1])) {
      throw new TemplateError(`unknown variable .${m[1]} (known: ${templateVariables.map((v) => `.${v}`).join(' ')})`);
    }
    if (text !== '') parts.push({ text });
    text = '';
    parts.push({ variable: m[1] as TemplateVariable });
    if (trimAfter) {
      const rest = /^\s*/.exec(source.slice(at));
      at += rest?.[0].length ?? 0;
    }
  }
  if (text !== '') parts.push({ text });
  return { source, parts };
}

/** Why `source` is not a template we can render, or null. */
export function templateProblem(source: string): string | null {
  try {
    parseTemplate(source);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

export function renderTemplate(template: Template, values: TemplateValues): string {
  let out = '';
  for (const p of template.parts) out += 'text' in p ? p.text : values[p.variable];
  return out;
}
