// /v1/jobs and /v1/restore: Dkron's job routes.

import { CommandType } from '../../state/commands.js';
import type { Job, JobSpec, JobVersion } from '../../state/job.js';
import { compactSpec } from '../../state/compact-job.js';
import { paramNamePattern } from '../../state/run.js';
import { validateJobSpec } from '../../state/validate-job.js';
import { canReadJob, jobLevel, missingCapability, type Grants } from '../../security/acl-policy.js';
import { redactConfig, redacted, restoreRedacted, type DeclaredSecretKeys } from '../../../common/secret-values.js';
import { ApiError } from '../api-error.js';
import type { ApiContext } from '../http-api.js';
import { iso, jobSpecFromJson, jobToJson } from '../job-json.js';
import { orderForRestore, readRestoreFile } from './restore-file.js';
import { accepted, json, ownKey, parseJson, pathParam, requireLeader, type Route, type RouteRequest } from './route.js';

const jobPath = /^\/v1\/jobs\/(?<name>[^/]+)$/;

function decodeName(req: RouteRequest): string {
  return pathParam(req, 'name');
}

function mustJob(ctx: ApiContext, name: string): Job {
  const job = ctx.state.job(name);
  if (!job) throw new ApiError('CT_STATE_JOB_NOT_FOUND', `job not found: ${name}`);
  return job;
}

/**
 * A job as the caller may see it: executor_config secrets (keys named like a
 * secret or that the job's executor declares secret, URL passwords, secret
 * env values and auth headers) are redacted for anyone below write on the job.
 */
export function jobJson(ctx: ApiContext, job: Job, grants: Grants): Record<string, unknown> {
  return shownTo(ctx, grants, job.name, jobToJson(job, ctx.dispatcher.nextRun(job)));
}

/**
 * The keys an executor declares secret: what this server's own plugin
 * declares (null while it has not told yet) and what the nodes that have
 * it reported to the cluster (agents at registration, recorded in the state).
 */
function declaredSecrets(ctx: ApiContext, executor: unknown): DeclaredSecretKeys {
  if (typeof executor !== 'string') return [];
  const local = ctx.secretKeys ? ctx.secretKeys(executor) : [];
  const recorded = ctx.state.declaredSecretKeys(executor);
  if (local === null || recorded.length === 0) return local;
  return local.length === 0 ? recorded : [...new Set([...local, ...recorded])];
}

/**
 * `out` (a job's JSON) with its secrets redacted unless the caller may see
 * them: one job, to a token with write on it; the list of every job, which
 * is Dkron's export for backup, only to a management token (`--api-token`,
 * an ACL management token, or anyone while ACLs and the API token are off).
 */
function shownTo(ctx: ApiContext, grants: Grants, name: string, out: Record<string, unknown>, as: 'job' | 'export' = 'job'): Record<string, unknown> {
  if (as === 'export' ? grants.all : jobLevel(grants, name).level === 'write') return out;
  const config = out['executor_config'];
  if (typeof config === 'object' && config !== null) out['executor_config'] = redactConfig(config as Record<string, string>, declaredSecrets(ctx, out['executor']));
  return out;
}

/** A saved job keeps the stored secret where the body carries back exactly what a redacted answer showed. */
function keepSecrets(ctx: ApiContext, spec: JobSpec): JobSpec {
  const stored = ctx.state.job(spec.name);
  const executorConfig = restoreRedacted(spec.executorConfig, stored?.executorConfig, stored ? declaredSecrets(ctx, stored.executor) : []);
  return executorConfig === spec.executorConfig ? spec : { ...spec, executorConfig };
}

/**
 * Everything a job must pass before it is proposed; apply() checks its part again.
 * With `warnOnExecutorConfig` (restore, as Dkron stores such a job and checks
 * the executor's settings only when it runs) an executor_config problem is
 * returned as a warning instead of thrown.
 */
async function checkedSpec(ctx: ApiContext, value: unknown, warnOnExecutorConfig = false): Promise<{ spec: JobSpec; warning: string | null }> {
  const spec = jobSpecFromJson(value, { parseDurationMs: (t) => ctx.dispatcher.schedules.parseDurationMs(t) });
  const invalid = validateJobSpec(spec);
  if (invalid) throw invalid;
  const problem = await ctx.dispatcher.validateJob(spec);
  if (problem && warnOnExecutorConfig && problem.field === 'executor_config') return { spec, warning: problem.message };
  if (problem) throw new ApiError(problem.code, problem.message, problem.field);
  return { spec, warning: null };
}

async function upsert(req: RouteRequest, ctx: ApiContext, pathName?: string): Promise<ReturnType<typeof json>> {
  requireLeader(ctx);
  const body = parseJson(req.body);
  if (pathName !== undefined && typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const named = body as Record<string, unknown>;
    if (!('name' in named)) named['name'] = pathName;
    else if (named['name'] !== pathName) {
      throw new ApiError('CT_API_INVALID_FIELD', `the body names job ${JSON.stringify(named['name'])} but the path names ${JSON.stringify(pathName)}: rename with POST /v1/jobs and DELETE the old one`, 'name');
    }
  }
  const spec = keepSecrets(ctx, (await checkedSpec(ctx, body)).spec);
  const existed = ctx.state.job(spec.name) !== undefined;
  const res = accepted(await ctx.log.submit({ type: CommandType.PutJob, atMs: ctx.now(), job: spec, by: req.caller }));
  const job = res.job ?? mustJob(ctx, spec.name);
  if (req.query.has('runoncreate')) void ctx.dispatcher.runNow(job.name).catch(() => {});
  // PUT tells a replace (200) from a create (201); POST and PATCH answer 201 as Dkron does.
  const status = pathName !== undefined && existed ? 200 : 201;
  return json(status, jobJson(ctx, job, req.grants), { location: `/v1/jobs/${encodeURIComponent(job.name)}` });
}

const sortable: Record<string, (j: Job, ctx: ApiContext) => string | number> = {
  id: (j) => j.name,
  name: (j) => j.name,
  displayname: (j) => j.displayName,
  schedule: (j) => j.schedule,
  success_count: (j) => j.successCount,
  error_count: (j) => j.errorCount,
  last_success: (j) => j.lastSuccessMs ?? -Infinity,
  last_error: (j) => j.lastErrorMs ?? -Infinity,
  next: (j, ctx) => ctx.dispatcher.nextRun(j) ?? Infinity,
  status: (j) => j.status,
};

function listJobs(req: RouteRequest, ctx: ApiContext) {
  const q = req.query;
  const metadata: [string, string][] = [];
  for (const [key, value] of q) {
    const m = /^metadata\[(.+)\]$/.exec(key);
    if (m?.[1] !== undefined) metadata.push([m[1], value]);
    else if (key === 'metadata') {
      const eq = value.indexOf('=');
      if (eq > 0) metadata.push([value.slice(0, eq), value.slice(eq + 1)]);
    }
  }
  const text = q.get('q')?.toLowerCase() ?? '';
  const statusParam = q.get('status');
  const status = statusParam === 'untriggered' ? '' : statusParam;
  const disabled = q.get('disabled');
  if (disabled !== null && disabled !== 'true' && disabled !== 'false') {
    throw new ApiError('CT_API_BAD_QUERY', 'disabled must be true or false');
  }
  const sortKey = q.get('_sort') ?? 'id';
  const sortBy = ownKey(sortable, sortKey);
  if (!sortBy) throw new ApiError('CT_API_BAD_QUERY', `cannot sort by ${sortKey}: use one of ${Object.keys(sortable).join(', ')}`);
  const order = (q.get('_order') ?? 'ASC').toUpperCase();
  if (order !== 'ASC' && order !== 'DESC') throw new ApiError('CT_API_BAD_QUERY', '_order must be ASC or DESC');

  const jobs: Job[] = [];
  for (const j of ctx.state.jobs()) {
    if (!canReadJob(req.grants, j.name)) continue; // a list holds only what the caller may read
    if (text && !j.name.toLowerCase().includes(text) && !j.displayName.toLowerCase().includes(text)) continue;
    if (status !== null && j.status !== status) continue;
    if (disabled !== null && String(j.disabled) !== disabled) continue;
    if (metadata.some(([k, v]) => j.metadata[k] !== v)) continue;
    jobs.push(j);
  }
  const keyed = jobs.map((j) => ({ j, k: sortBy(j, ctx) }));
  keyed.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.j.name < b.j.name ? -1 : 1) * (order === 'DESC' ? -1 : 1));
  const start = intParam(q, '_start') ?? 0;
  const end = intParam(q, '_end') ?? keyed.length;
  // The list is what a backup saves (Dkron's export): its secrets are for management tokens only.
  const page = keyed.slice(start, end).map(({ j }) => shownTo(ctx, req.grants, j.name, jobToJson(j, ctx.dispatcher.nextRun(j)), 'export'));
  return json(200, page, { 'x-total-count': String(keyed.length), 'access-control-expose-headers': 'X-Total-Count' });
}

export function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new ApiError('CT_API_BAD_QUERY', `${name} must be a whole number of 0 or more`);
  return n;
}

async function runJob(req: RouteRequest, ctx: ApiContext) {
  requireLeader(ctx);
  const name = decodeName(req);
  const job = mustJob(ctx, name);
  const res = accepted(await ctx.dispatcher.runNow(name, runParameters(req.body)));
  // A workflow's root started a run: its id comes with the job.
  const runId = res.executions.find((e) => e.runId !== undefined)?.runId;
  return json(202, { ...jobJson(ctx, job, req.grants), ...(runId === undefined ? {} : { run_id: runId }) });
}

/** `{"parameters": {...}}` of a run request (an empty body: none), merged over the job's defaults when it runs. */
function runParameters(body: Buffer): Record<string, string> | undefined {
  if (body.length === 0 || body.toString('utf8').trim() === '') return undefined;
  const value = parseJson(body);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ApiError('CT_API_INVALID_FIELD', 'a run request body must be a JSON object such as {"parameters": {"KEY": "value"}}');
  const raw = (value as Record<string, unknown>)['parameters'];
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ApiError('CT_API_INVALID_FIELD', 'parameters: must be an object of strings', 'parameters');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (!paramNamePattern.test(k)) throw new ApiError('CT_API_INVALID_FIELD', `parameters: the name ${JSON.stringify(k)} must be letters, digits and "_" (not starting with a digit)`, `parameters.${k}`);
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
    else throw new ApiError('CT_API_INVALID_FIELD', `parameters.${k}: must be a string`, `parameters.${k}`);
  }
  return out;
}

/**
 * Dkron's restore: each job of the file is created or updated on its own,
 * parents first; the answer has one line per job ("success create NAME" or
 * "fail create NAME: why"), and one bad job never sinks the rest.
 */
async function restore(req: RouteRequest, ctx: ApiContext) {
  requireLeader(ctx);
  const items = await readRestoreFile(req);
  // Checked together (a plugin executor answers over gRPC).
  const results = await Promise.allSettled(items.map(async (item) => {
    const checked = await checkedSpec(ctx, item, true);
    // The route needs operator write; each job also needs write on its name.
    const missing = missingCapability(req.grants, { kind: 'job', level: 'write', from: 'body' }, checked.spec.name);
    if (missing !== null) throw new ApiError('CT_API_FORBIDDEN', missing);
    const spec = keepSecrets(ctx, checked.spec);
    // A redacted export (made without a management token) restored where the job has no stored secret to keep.
    const markers = Object.entries(spec.executorConfig).filter(([, v]) => v.includes(redacted)).map(([k]) => k);
    const marked = markers.length === 0 ? null : `${markers.join(', ')} ${markers.length === 1 ? 'holds' : 'hold'} the ${redacted} marker, not a secret (an export made without a management token has its secrets redacted)`;
    return { spec, warning: [checked.warning, marked].filter((w) => w !== null).join('; ') || null };
  }));
  const lines: string[] = [];
  const good: { spec: JobSpec; warning: string | null }[] = [];
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') good.push(r.value);
    else lines.push(`fail create ${restoreName(items[i], i)}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`);
  });
  const { ordered, refused } = orderForRestore(good.map((g) => g.spec), (name) => ctx.state.job(name) !== undefined);
  for (const r of refused) lines.push(`fail create ${r.name}: ${r.reason}`);
  const warnings = new Map(good.map((g) => [g.spec.name, g.warning]));
  // Proposed together, in order (parents first), so they share the log's group
  // commits; each is still its own command with its own outcome.
  const outcomes = await Promise.allSettled(ordered.map((spec) => ctx.log.submit({ type: CommandType.PutJob, atMs: ctx.now(), job: spec, by: req.caller }).then(accepted)));
  for (const [i, spec] of ordered.entries()) {
    const outcome = outcomes[i];
    if (outcome?.status === 'rejected') {
      lines.push(`fail create ${spec.name}: ${outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason)}`);
      continue;
    }
    const warning = warnings.get(spec.name) ?? null;
    lines.push(warning === null ? `success create ${spec.name}` : `success create ${spec.name}, warning: executor_config: ${warning}`);
  }
  return json(200, lines);
}

function restoreName(item: unknown, index: number): string {
  if (typeof item === 'object' && item !== null) {
    const name = (item as Record<string, unknown>)['name'];
    if (typeof name === 'string' && name !== '') return name;
  }
  return `(job ${index + 1} of the file)`;
}

const versionsPath = /^\/v1\/jobs\/(?<name>[^/]+)\/versions$/;
const versionPath = /^\/v1\/jobs\/(?<name>[^/]+)\/versions\/(?<n>[^/]+)$/;

/** A recorded version's job as the job JSON a client sends (no counters, no status). */
function versionJobJson(ctx: ApiContext, spec: JobSpec, grants?: Grants): Record<string, unknown> {
  const asJob: Job = { ...compactSpec(spec), createdAtMs: 0, updatedAtMs: 0, successCount: 0, errorCount: 0, lastSuccessMs: null, lastErrorMs: null, status: '', dependentJobs: [], anchorMs: 0, lastScheduledMs: 0 };
  const out = jobToJson(asJob, null);
  for (const k of ['success_count', 'error_count', 'last_success', 'last_error', 'dependent_jobs', 'status', 'next']) delete out[k];
  return grants ? shownTo(ctx, grants, spec.name, out) : out;
}

function versionJson(ctx: ApiContext, v: JobVersion, withJob: boolean, grants: Grants): Record<string, unknown> {
  return {
    version: v.n,
    at: iso(v.atMs),
    by: v.by,
    change: v.change,
    ...(v.restoredFrom === undefined ? {} : { restored_from: v.restoredFrom }),
    ...(withJob ? { job: v.spec === null ? null : versionJobJson(ctx, v.spec, grants) } : {}),
  };
}

function mustVersions(req: RouteRequest, ctx: ApiContext): readonly JobVersion[] {
  const name = decodeName(req);
  const versions = ctx.state.versionsOf(name);
  if (versions.length === 0 && !ctx.state.job(name)) throw new ApiError('CT_STATE_JOB_NOT_FOUND', `job not found: ${name}`);
  return versions;
}

function mustVersion(req: RouteRequest, ctx: ApiContext): JobVersion {
  const versions = mustVersions(req, ctx);
  const raw = pathParam(req, 'n');
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new ApiError('CT_API_BAD_PATH', `version must be a whole number from 1, not ${JSON.stringify(raw)}`, 'n');
  const v = versions.find((x) => x.n === n);
  if (!v) {
    const kept = versions.length > 0 ? `versions ${versions[0]?.n ?? ''} to ${versions[versions.length - 1]?.n ?? ''} are kept` : 'no versions are kept';
    throw new ApiError('CT_API_VERSION_NOT_FOUND', `job ${decodeName(req)} has no version ${n}: ${kept}`);
  }
  return v;
}

const versionRoutes: Route[] = [
  { method: 'GET', pattern: versionsPath, handle: (req, ctx) => json(200, [...mustVersions(req, ctx)].reverse().map((v) => versionJson(ctx, v, false, req.grants))) },
  { method: 'GET', pattern: versionPath, handle: (req, ctx) => json(200, versionJson(ctx, mustVersion(req, ctx), true, req.grants)) },
  {
    method: 'POST',
    pattern: /^\/v1\/jobs\/(?<name>[^/]+)\/versions\/(?<n>[^/]+)\/restore$/,
    body: true,
    handle: async (req, ctx) => {
      requireLeader(ctx);
      const v = mustVersion(req, ctx);
      if (v.spec === null) throw new ApiError('CT_API_VERSION_DELETED', `version ${v.n} of ${decodeName(req)} is its deletion: restore a version before it`);
      // Checked as a new save is: the executor or the parent may be gone since.
      const { spec } = await checkedSpec(ctx, versionJobJson(ctx, v.spec));
      const res = accepted(await ctx.log.submit({ type: CommandType.PutJob, atMs: ctx.now(), job: spec, by: req.caller, restoredFrom: v.n }));
      const job = res.job ?? mustJob(ctx, spec.name);
      return json(201, jobJson(ctx, job, req.grants), { location: `/v1/jobs/${encodeURIComponent(job.name)}` });
    },
  },
];

export const jobRoutes: Route[] = [
  ...versionRoutes,
  { method: 'GET', pattern: /^\/v1\/jobs$/, handle: listJobs },
  { method: 'POST', pattern: /^\/v1\/jobs$/, body: true, handle: (req, ctx) => upsert(req, ctx) },
  { method: 'PATCH', pattern: /^\/v1\/jobs$/, body: true, handle: (req, ctx) => upsert(req, ctx) },
  { method: 'GET', pattern: jobPath, handle: (req, ctx) => json(200, jobJson(ctx, mustJob(ctx, decodeName(req)), req.grants)) },
  { method: 'PUT', pattern: jobPath, body: true, handle: (req, ctx) => upsert(req, ctx, decodeName(req)) },
  {
    method: 'DELETE',
    pattern: jobPath,
    handle: async (req, ctx) => {
      requireLeader(ctx);
      const name = decodeName(req);
      mustJob(ctx, name);
      const res = accepted(await ctx.log.submit({ type: CommandType.DeleteJob, atMs: ctx.now(), name, by: req.caller }));
      return json(200, res.job ? shownTo(ctx, req.grants, name, jobToJson(res.job, null)) : { name });
    },
  },
  { method: 'POST', pattern: jobPath, body: true, handle: runJob },
  { method: 'POST', pattern: /^\/v1\/jobs\/(?<name>[^/]+)\/run$/, body: true, handle: runJob },
  {
    method: 'POST',
    pattern: /^\/v1\/jobs\/(?<name>[^/]+)\/toggle$/,
    body: true,
    handle: async (req, ctx) => {
      requireLeader(ctx);
      const name = decodeName(req);
      mustJob(ctx, name);
      const res = accepted(await ctx.log.submit({ type: CommandType.ToggleJob, atMs: ctx.now(), name, by: req.caller }));
      const job = res.job ?? mustJob(ctx, name);
      return json(200, jobJson(ctx, job, req.grants), { location: `/v1/jobs/${encodeURIComponent(name)}` });
    },
  },
  {
    method: 'POST',
    pattern: /^\/v1\/restore$/,
    body: true,
    // Dkron's `dkron restore` posts the file as a multipart form.
    alsoAccepts: ['multipart/form-data'],
    handle: (req, ctx) => restore(req, ctx),
  },
];
