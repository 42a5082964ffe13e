// Field rules of a job that need nothing but the job itself (Dkron's rules).
// Schedule, time zone and executor config are checked by their owners.

import { edgesOf, notifyOns, type JobSpec } from './job.js';
import { StateError, StateErrorCode } from './state-error.js';
import { paramNamePattern } from './run.js';

/** An RFC3339 time with a zone (checked by its shape here; the leader parses it when the task is due). */
export const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

const nameChar = /^[\p{Ll}\p{Nd}_-]$/u;

/** Returns the first problem with the spec, or null. */
export function validateJobSpec(job: JobSpec): StateError | null {
  const invalid = (field: string, message: string) => new StateError(StateErrorCode.InvalidJob, message, field);
  if (job.name === '') return invalid('name', 'name cannot be empty');
  for (const ch of job.name) {
    if (!nameChar.test(ch)) {
      return invalid('name', `name contains the illegal character ${JSON.stringify(ch)}: use lower-case letters, digits, "_" and "-"`);
    }
  }
  if (job.name.length > 200) return invalid('name', 'name is longer than 200 characters');
  if (job.parentJob === job.name) return invalid('parent_job', 'a job cannot be its own parent');
  const edges = edgesOf(job);
  if (job.schedule === '' && edges.length === 0) {
    return invalid('schedule', 'schedule is required unless parent_job or depends_on is set');
  }
  const seen = new Set<string>();
  for (const [i, e] of edges.entries()) {
    const at = `depends_on[${i}]`;
    if (typeof e.job !== 'string' || e.job === '') return invalid(`${at}.job`, `${at}.job must name a job`);
    if (e.job === job.name) return invalid(`${at}.job`, `${at}: a job cannot depend on itself`);
    if (seen.has(e.job)) return invalid(`${at}.job`, `${at}: ${e.job} is named twice: use one edge per upstream job (on "done" for either outcome)`);
    seen.add(e.job);
    if (e.on !== 'success' && e.on !== 'failure' && e.on !== 'done') return invalid(`${at}.on`, `${at}.on must be "success", "failure" or "done"`);
    if (e.exitCode !== undefined && !Number.isInteger(e.exitCode)) return invalid(`${at}.exit_code`, `${at}.exit_code must be a whole number`);
    if (e.outputMatches !== undefined) {
      try {
        new RegExp(e.outputMatches, 'm');
      } catch (err) {
        return invalid(`${at}.output_matches`, `${at}.output_matches is not a valid regular expression: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
  const nb = job.notBefore ?? '';
  if (nb !== '' && !nb.includes('{{') && !rfc3339.test(nb)) {
    return invalid('not_before', `not_before must be an RFC3339 time (e.g. 2026-01-02T15:04:05Z) or a template such as "{{ .Params.ship_at }}", not ${JSON.stringify(nb)}`);
  }
  if (job.triggerRule !== undefined && job.triggerRule !== 'all' && job.triggerRule !== 'any') {
    return invalid('trigger_rule', 'trigger_rule must be "all" or "any"');
  }
  for (const [k, v] of Object.entries(job.parameters ?? {})) {
    if (!paramNamePattern.test(k)) return invalid(`parameters.${k}`, `parameters: the name ${JSON.stringify(k)} must be letters, digits and "_" (not starting with a digit)`);
    if (typeof v !== 'string') return invalid(`parameters.${k}`, `parameters.${k} must be a string`);
  }
  if (!Number.isInteger(job.retries) || job.retries < 0 || job.retries > 100) {
    return invalid('retries', 'retries must be an integer from 0 to 100');
  }
  if (job.concurrency !== 'allow' && job.concurrency !== 'forbid') {
    return invalid('concurrency', 'concurrency must be "allow" or "forbid"');
  }
  const c = job.catchUp;
  if (c.mode !== 'none' && c.mode !== 'latest' && c.mode !== 'all') {
    return invalid('catch_up.policy', 'catch_up.policy must be "none", "latest" or "all"');
  }
  if (!Number.isInteger(c.max) || c.max < 1 || c.max > 10_000) {
    return invalid('catch_up.max', 'catch_up.max must be an integer from 1 to 10000');
  }
  if (!Number.isFinite(c.startingDeadlineMs) || c.startingDeadlineMs < 0) {
    return invalid('catch_up.starting_deadline', 'catch_up.starting_deadline must be a duration of 0 or more');
  }
  if (job.startsAtMs !== null && job.expiresAtMs !== null && job.expiresAtMs <= job.startsAtMs) {
    return invalid('expires_at', 'expires_at must be later than starts_at');
  }
  return validateNotify(job);
}

/** The most notification rules a job may have, and recipients a rule may name. */
export const maxNotifyRules = 10;
export const maxNotifyEmails = 20;

const emailPattern = /^[^\s@,<>]+@[^\s@,<>]+$/;

/** The shape of a job's `notify` rules (their payload templates are checked by the notifier's renderer). */
function validateNotify(job: JobSpec): StateError | null {
  const invalid = (field: string, message: string) => new StateError(StateErrorCode.InvalidJob, `${field}: ${message}`, field);
  const rules = job.notify ?? [];
  if (rules.length > maxNotifyRules) return invalid('notify', `at most ${maxNotifyRules} rules, not ${rules.length}`);
  for (const [i, rule] of rules.entries()) {
    const at = `notify[${i}]`;
    if (!notifyOns.includes(rule.on)) return invalid(`${at}.on`, `must be one of ${notifyOns.map((o) => `"${o}"`).join(', ')}, not ${JSON.stringify(rule.on)}`);
    if (rule.email.length === 0 && rule.webhook === '') return invalid(at, 'needs "email" (a list of addresses), "webhook" (a URL), or both');
    if (rule.email.length > maxNotifyEmails) return invalid(`${at}.email`, `at most ${maxNotifyEmails} addresses`);
    for (const address of rule.email) {
      if (!emailPattern.test(address)) return invalid(`${at}.email`, `${JSON.stringify(address)} is not an e-mail address`);
    }
    if (rule.webhook !== '') {
      const problem = webhookProblem(rule.webhook);
      if (problem !== null) return invalid(`${at}.webhook`, problem);
    }
  }
  return null;
}

/** Why `url` cannot be a webhook, or null. */
export function webhookProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${JSON.stringify(url)} is not a URL`;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `${JSON.stringify(url)} must be an http:// or https:// URL`;
  return null;
}
