// Save-time checks of a job's `notify` rules beyond their shape (which
// server/state checks): payload templates, and mail only where this server
// can send it. Pure.

import type { JobSpec } from '../../state/job.js';
import type { NotifySettings } from './notify-settings.js';
import { templateProblem } from './template.js';

/** The first rule whose payload is not a template we render, as `{ field, message }`, or null. */
export function notifyRulesProblem(spec: Pick<JobSpec, 'notify'>): { field: string; message: string } | null {
  for (const [i, rule] of (spec.notify ?? []).entries()) {
    if (rule.payload === '') continue;
    const bad = templateProblem(rule.payload);
    if (bad !== null) return { field: `notify[${i}].payload`, message: `notify[${i}].payload: ${bad}` };
  }
  return null;
}

/** Rules that mail when this server has no SMTP settings: a save-time error rather than deliveries that can only fail. */
export function mailProblem(settings: Pick<NotifySettings, 'mail'>, spec: Pick<JobSpec, 'notify'>): { field: string; message: string } | null {
  if (settings.mail !== null) return null;
  const i = (spec.notify ?? []).findIndex((r) => r.email.length > 0);
  if (i < 0) return null;
  return { field: `notify[${i}].email`, message: `notify[${i}].email: this server has no mail settings (start it with --mail-host and --mail-port) to send mail with` };
}
