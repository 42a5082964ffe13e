// Dkron's job and execution JSON <-> our model. A Dkron job file posts
// unchanged: its output-only fields (status, counters, next, ...) are
// accepted and ignored; a field nobody knows is an error naming it.

import { defaultCatchUp, normalizeEdges, notifyOns, type CatchUpMode, type DependencyEdge, type Job, type JobSpec, type NotifyOn, type NotifyRule } from '../state/job.js';
import type { Execution, SkippedFires } from '../state/execution.js';
import type { Notification } from '../state/notification.js';
import { target } from '../dispatch/notify/notifier.js';
import { ApiError } from './api-error.js';

/** Fields a client sets. */
const inputFields = new Set([
  'name', 'displayname', 'timezone', 'schedule', 'owner', 'owner_email', 'disabled', 'tags', 'metadata', 'retries',
  'parent_job', 'processors', 'concurrency', 'executor', 'executor_config', 'ephemeral', 'starts_at', 'expires_at', 'catch_up',
  'notify',
  'depends_on', 'trigger_rule', 'parameters', 'not_before',
]);
/** Fields the server computes: accepted on input (an export posts back unchanged) and ignored. */
const outputFields = new Set([
  'id', 'success_count', 'error_count', 'last_success', 'last_error', 'dependent_jobs', 'status', 'next',
]);

type Json = Record<string, unknown>;

export interface JobJsonContext {
  /** Go duration ("1h30m") to milliseconds; throws on a bad one. */
  readonly parseDurationMs: (text: string) => number;
}

export function jobSpecFromJson(value: unknown, ctx: JobJsonContext): JobSpec {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ApiError('CT_API_INVALID_FIELD', 'a job must be a JSON object');
  }
  const o = value as Json;
  for (const key of Object.keys(o)) {
    if (!inputFields.has(key) && !outputFields.has(key)) {
      throw new ApiError('CT_API_UNKNOWN_FIELD', `unknown field "${key}"`, key);
    }
  }
  const catchUp = readCatchUp(o['catch_up'], ctx);
  const notify = notifyOf(o['notify']);
  // parent_job is one success edge: the state folds it into depends_on, and answers show it when it is the only edge.
  const parentJob = str(o, 'parent_job');
  const dependsOn = edgesFrom(o['depends_on']);
  const triggerRule = str(o, 'trigger_rule');
  if (triggerRule !== '' && triggerRule !== 'all' && triggerRule !== 'any') throw bad('trigger_rule', `must be "all" or "any", not ${JSON.stringify(triggerRule)}`);
  return {
    name: nameOf(o),
    displayName: str(o, 'displayname'),
    timezone: str(o, 'timezone'),
    schedule: str(o, 'schedule').trim(),
    owner: str(o, 'owner'),
    ownerEmail: str(o, 'owner_email'),
    disabled: bool(o, 'disabled'),
    tags: stringMap(o, 'tags'),
    metadata: stringMap(o, 'metadata'),
    retries: int(o, 'retries'),
    parentJob,
    processors: processorsOf(o),
    concurrency: concurrencyOf(o),
    executor: str(o, 'executor'),
    executorConfig: stringMap(o, 'executor_config'),
    ephemeral: bool(o, 'ephemeral'),
    startsAtMs: time(o, 'starts_at'),
    expiresAtMs: time(o, 'expires_at'),
    catchUp,
    ...(notify.length > 0 ? { notify } : {}),
    dependsOn,
    triggerRule: triggerRule === 'any' ? 'any' : 'all',
    parameters: stringMap(o, 'parameters'),
    notBefore: str(o, 'not_before').trim(),
  };
}

const edgeFields = new Set(['job', 'on', 'output_matches', 'exit_code']);

function edgesFrom(v: unknown): DependencyEdge[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw bad('depends_on', 'must be a list of edges such as {"job": "extract", "on": "success"}');
  return v.map((item: unknown, i): DependencyEdge => {
    const at = `depends_on[${i}]`;
    if (typeof item === 'string') return { job: item, on: 'success' }; // a bare name: a success edge
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw bad(at, 'must be an object {"job", "on", "output_matches", "exit_code"}');
    const e = item as Json;
    for (const key of Object.keys(e)) if (!edgeFields.has(key)) throw new ApiError('CT_API_UNKNOWN_FIELD', `unknown field "${at}.${key}"`, `${at}.${key}`);
    const job = e['job'];
    if (typeof job !== 'string' || job === '') throw bad(`${at}.job`, 'must name the upstream job');
    const on = e['on'] ?? 'success';
    if (on !== 'success' && on !== 'failure' && on !== 'done') throw bad(`${at}.on`, `must be "success", "failure" or "done", not ${JSON.stringify(on)}`);
    const out: { job: string; on: typeof on; outputMatches?: string; exitCode?: number } = { job, on };
    const re = e['output_matches'];
    if (re !== undefined && re !== null) {
      if (typeof re !== 'string') throw bad(`${at}.output_matches`, 'must be a regular expression as a string');
      try {
        new RegExp(re, 'm');
      } catch (err) {
        throw bad(`${at}.output_matches`, `is not a valid regular expression: ${err instanceof Error ? err.message : String(err)}`);
      }
      out.outputMatches = re;
    }
    const code = e['exit_code'];
    if (code !== undefined && code !== null) {
      if (typeof code !== 'number' || !Number.isInteger(code)) throw bad(`${at}.exit_code`, 'must be a whole number');
      out.exitCode = code;
    }
    return out;
  });
}

export function edgeToJson(e: DependencyEdge): Json {
  return {
    job: e.job, on: e.on,
    ...(e.outputMatches === undefined ? {} : { output_matches: e.outputMatches }),
    ...(e.exitCode === undefined ? {} : { exit_code: e.exitCode }),
  };
}

const ruleFields = new Set(['on', 'email', 'webhook', 'payload']);

/** `notify`: a list of rules `{on, email, webhook, payload}`; each problem names the field, e.g. `notify[1].on`. */
function notifyOf(v: unknown): NotifyRule[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw bad('notify', 'must be a list of rules such as {"on": "failure", "email": ["ops@example.com"]}');
  return v.map((item: unknown, i): NotifyRule => {
    const at = `notify[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw bad(at, 'must be an object with "on" and "email" or "webhook"');
    const r = item as Json;
    for (const key of Object.keys(r)) {
      if (!ruleFields.has(key)) throw new ApiError('CT_API_UNKNOWN_FIELD', `unknown field "${at}.${key}" (a rule has on, email, webhook, payload)`, `${at}.${key}`);
    }
    const on = r['on'];
    if (typeof on !== 'string' || !notifyOns.includes(on as NotifyOn)) {
      throw bad(`${at}.on`, `must be one of ${notifyOns.map((x) => `"${x}"`).join(', ')}, not ${JSON.stringify(on ?? null)}`);
    }
    let email: string[] = [];
    const e = r['email'];
    if (typeof e === 'string') email = [e];
    else if (Array.isArray(e) && e.every((x): x is string => typeof x === 'string')) email = e;
    else if (e !== undefined && e !== null) throw bad(`${at}.email`, 'must be a list of e-mail addresses');
    for (const key of ['webhook', 'payload'] as const) {
      const x = r[key];
      if (x !== undefined && x !== null && typeof x !== 'string') throw bad(`${at}.${key}`, 'must be a string');
    }
    return { on: on as NotifyOn, email, webhook: str(r, 'webhook'), payload: str(r, 'payload') };
  });
}

// ASCII only: look-alikes such as a fullwidth "ａ" or the ligature "ﬀ" would
// make names that read the same and are different jobs.
const namePattern = /^[a-z0-9_-]*$/;

function nameOf(o: Json): string {
  const name = str(o, 'name');
  if (!namePattern.test(name)) {
    const ch = [...name].find((c) => !namePattern.test(c)) ?? '';
    // The same code the state machine uses for a name it refuses.
    throw new ApiError('CT_STATE_INVALID_JOB', `name contains the illegal character ${JSON.stringify(ch)}: use lower-case letters a-z, digits, "_" and "-"`, 'name');
  }
  return name;
}

/** A key that JSON allows and a JavaScript object cannot hold as plain data (it would be dropped silently). */
const reservedKeys = new Set(['__proto__']);

function checkKey(field: string, key: string): void {
  if (reservedKeys.has(key)) throw bad(`${field}.${key}`, `the key "${key}" is not allowed`);
}

function bad(field: string, message: string): ApiError {
  return new ApiError('CT_API_INVALID_FIELD', `${field}: ${message}`, field);
}

function str(o: Json, field: string): string {
  const v = o[field];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw bad(field, 'must be a string');
  return v;
}

function bool(o: Json, field: string): boolean {
  const v = o[field];
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean') throw bad(field, 'must be true or false');
  return v;
}

function int(o: Json, field: string): number {
  const v = o[field];
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad(field, 'must be a whole number of 0 or more');
  return v;
}

function stringMap(o: Json, field: string): Record<string, string> {
  const v = o[field];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(field, 'must be an object of strings');
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Json)) {
    checkKey(field, k);
    // Dkron's executor_config is map<string,string>; numbers and booleans are a common slip, so take them as text.
    if (typeof x === 'string') out[k] = x;
    else if (typeof x === 'number' || typeof x === 'boolean') out[k] = String(x);
    else throw bad(`${field}.${k}`, 'must be a string');
  }
  return out;
}

function processorsOf(o: Json): Record<string, Record<string, string>> {
  const v = o['processors'];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw bad('processors', 'must be an object of processor configs');
  const out: Record<string, Record<string, string>> = {};
  for (const name of Object.keys(v as Json)) {
    checkKey('processors', name);
    out[name] = stringMap(v as Json, name);
  }
  return out;
}

function concurrencyOf(o: Json): 'allow' | 'forbid' {
  const v = str(o, 'concurrency');
  if (v === '' || v === 'allow') return 'allow';
  if (v === 'forbid') return 'forbid';
  throw bad('concurrency', `must be "allow" or "forbid", not ${JSON.stringify(v)}`);
}

/** RFC3339, or the HTML datetime-local form YYYY-MM-DDTHH:MM (taken as UTC), or null. */
export function parseNullableTime(v: unknown, field: string): number | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string') throw bad(field, 'must be an RFC3339 time string or null');
  const local = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(v);
  const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(v);
  const ms = local ? Date.parse(`${v}:00Z`) : rfc3339 ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(ms)) throw bad(field, `${JSON.stringify(v)} is not an RFC3339 time (e.g. 2026-01-02T15:04:05Z)`);
  // Go's zero time, which Dkron writes for "unset".
  if (ms <= -62135596800000) return null;
  return ms;
}

function time(o: Json, field: string): number | null {
  return parseNullableTime(o[field], field);
}

function readCatchUp(v: unknown, ctx: JobJsonContext): JobSpec['catchUp'] {
  if (v === undefined || v === null) return defaultCatchUp;
  if (typeof v !== 'object' || Array.isArray(v)) throw bad('catch_up', 'must be an object');
  const o = v as Json;
  for (const key of Object.keys(o)) {
    if (key !== 'policy' && key !== 'max' && key !== 'starting_deadline') {
      throw new ApiError('CT_API_UNKNOWN_FIELD', `unknown field "catch_up.${key}"`, `catch_up.${key}`);
    }
  }
  const policy = o['policy'] ?? defaultCatchUp.mode;
  if (policy !== 'none' && policy !== 'latest' && policy !== 'all') {
    throw bad('catch_up.policy', 'must be "none", "latest" or "all"');
  }
  const max = o['max'] ?? defaultCatchUp.max;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) throw bad('catch_up.max', 'must be a whole number of 1 or more');
  let startingDeadlineMs = defaultCatchUp.startingDeadlineMs;
  const deadline = o['starting_deadline'];
  if (deadline !== undefined && deadline !== null) {
    if (typeof deadline !== 'string') throw bad('catch_up.starting_deadline', 'must be a duration such as "10m"');
    try {
      startingDeadlineMs = ctx.parseDurationMs(deadline);
    } catch (err) {
      throw bad('catch_up.starting_deadline', err instanceof Error ? err.message : String(err));
    }
  }
  return { mode: policy as CatchUpMode, max, startingDeadlineMs };
}

// ---- output ----------------------------------------------------------------

/** Milliseconds as a Go duration: 3600000 -> "1h", 5400000 -> "1h30m", 1500 -> "1.5s". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
}

export function iso(ms: number | null): string | null {
  // A time no Date can hold answers null rather than failing the whole list.
  return ms === null || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15 ? null : new Date(ms).toISOString();
}

/** Dkron's job JSON, plus our catch_up. */
export function jobToJson(job: Job, next: number | null): Json {
  return {
    id: job.name,
    name: job.name,
    displayname: job.displayName,
    timezone: job.timezone,
    schedule: job.schedule,
    owner: job.owner,
    owner_email: job.ownerEmail,
    success_count: job.successCount,
    error_count: job.errorCount,
    last_success: iso(job.lastSuccessMs),
    last_error: iso(job.lastErrorMs),
    disabled: job.disabled,
    tags: job.tags,
    metadata: job.metadata,
    retries: job.retries,
    dependent_jobs: job.dependentJobs.length > 0 ? job.dependentJobs : null,
    parent_job: job.parentJob,
    processors: job.processors,
    concurrency: job.concurrency,
    executor: job.executor,
    executor_config: job.executorConfig,
    status: job.status,
    next: iso(next),
    ephemeral: job.ephemeral,
    starts_at: iso(job.startsAtMs),
    expires_at: iso(job.expiresAtMs),
    catch_up: {
      policy: job.catchUp.mode,
      max: job.catchUp.max,
      starting_deadline: formatDuration(job.catchUp.startingDeadlineMs),
    },
    // Present when the job has rules (a job without is Dkron's job JSON exactly).
    ...(job.notify?.length ? { notify: job.notify.map((r) => ({ on: r.on, email: r.email, webhook: r.webhook, payload: r.payload })) } : {}),
    depends_on: normalizeEdges(job).dependsOn.map(edgeToJson),
    trigger_rule: job.triggerRule ?? 'all',
    parameters: job.parameters ?? {},
    not_before: job.notBefore ?? '',
  };
}

/** One delivery of an execution's: where to (no secrets: see target()), and how it went. */
export function notificationToJson(n: Notification): Json {
  return {
    id: n.id,
    event: n.event,
    channel: n.channel,
    source: n.source,
    on: n.on,
    target: target(n),
    state: n.state,
    attempts: n.attempts,
    last_error: n.lastError,
    created_at: iso(n.createdAtMs),
    next_attempt_at: n.state === 'pending' ? iso(n.nextAttemptMs) : null,
    settled_at: iso(n.settledAtMs),
  };
}

/**
 * Dkron's execution JSON plus `scheduled_at`, `state`, `trigger`,
 * `exit_code`, `error`, `error_code`, and (given) the execution's `notifications`.
 */
export function executionToJson(e: Execution, outputLimit?: number, notifications?: readonly Notification[]): Json {
  let output = e.output;
  let truncated = e.outputTruncated;
  if (outputLimit !== undefined) {
    const bytes = Buffer.from(output, 'utf8');
    if (bytes.length > outputLimit) {
      output = bytes.subarray(bytes.length - outputLimit).toString('utf8');
      truncated = true;
    }
  }
  return {
    id: e.id,
    job_name: e.jobName,
    group: e.group,
    attempt: e.attempt,
    trigger: e.trigger,
    scheduled_at: iso(e.scheduledAtMs),
    started_at: iso(e.startedAtMs),
    finished_at: iso(e.finishedAtMs),
    state: e.state,
    success: e.state === 'succeeded',
    node_name: e.nodeName,
    exit_code: e.exitCode,
    error: e.error,
    // The failure's stable code (README, "Error codes"); "" on success, while running, and for executions recorded before codes.
    error_code: e.errorCode ?? '',
    output,
    output_truncated: truncated,
    ...(notifications ? { notifications: notifications.map(notificationToJson) } : {}),
    ...(e.runId === undefined ? {} : { run_id: e.runId }),
    ...(e.paramsOut === undefined ? {} : { params_out: e.paramsOut }),
  };
}

export function skipToJson(s: SkippedFires): Json {
  return {
    job_name: s.jobName,
    first_scheduled_at: iso(s.firstMs),
    last_scheduled_at: iso(s.lastMs),
    count: s.count,
    reason: s.reason,
    recorded_at: iso(s.recordedAtMs),
  };
}
