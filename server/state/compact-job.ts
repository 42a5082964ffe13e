// Memory: 100,000 jobs mostly repeat the same few values (executor names,
// schedules, empty maps, the default catch-up policy). Jobs are immutable
// once stored, so equal values can be shared: empty maps and lists become one
// frozen instance, and short strings are interned. Pure and deterministic.

import { defaultCatchUp, normalizeEdges, type CatchUpPolicy, type DependencyEdge, type Job, type JobSpec } from './job.js';

const emptyMap: Readonly<Record<string, never>> = Object.freeze({});
const strings = new Map<string, string>();
const maxInterned = 50_000;

/** One shared copy of short repeated strings. */
export function intern(s: string): string {
  if (s.length > 64) return s;
  const hit = strings.get(s);
  if (hit !== undefined) return hit;
  if (strings.size < maxInterned) strings.set(s, s);
  return s;
}

function compactMap(m: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  const keys = Object.keys(m);
  if (keys.length === 0) return emptyMap;
  const out: Record<string, string> = {};
  for (const k of keys) out[intern(k)] = intern(m[k] as string);
  return out;
}

function compactCatchUp(c: CatchUpPolicy): CatchUpPolicy {
  return c.mode === defaultCatchUp.mode && c.max === defaultCatchUp.max && c.startingDeadlineMs === defaultCatchUp.startingDeadlineMs ? defaultCatchUp : c;
}

export function compactSpec(spec: JobSpec): JobSpec {
  const processors = Object.keys(spec.processors).length === 0
    ? emptyMap
    : Object.fromEntries(Object.entries(spec.processors).map(([k, v]) => [intern(k), compactMap(v)]));
  const { dependsOn, parentJob } = normalizeEdges(spec);
  return {
    name: spec.name,
    displayName: intern(spec.displayName),
    timezone: intern(spec.timezone),
    schedule: intern(spec.schedule),
    owner: intern(spec.owner),
    ownerEmail: intern(spec.ownerEmail),
    disabled: spec.disabled,
    tags: compactMap(spec.tags),
    metadata: compactMap(spec.metadata),
    retries: spec.retries,
    parentJob: intern(parentJob),
    processors,
    concurrency: spec.concurrency,
    executor: intern(spec.executor),
    executorConfig: compactMap(spec.executorConfig),
    ephemeral: spec.ephemeral,
    startsAtMs: spec.startsAtMs,
    expiresAtMs: spec.expiresAtMs,
    catchUp: compactCatchUp(spec.catchUp),
    ...(spec.notify !== undefined && spec.notify.length > 0 ? { notify: spec.notify } : {}),
    dependsOn: dependsOn.length === 0 ? noEdges : dependsOn.map((e) => ({ ...e, job: intern(e.job) })),
    triggerRule: spec.triggerRule ?? 'all',
    parameters: compactMap(spec.parameters ?? {}),
    notBefore: intern(spec.notBefore ?? ''),
  };
}

export const noEdges: readonly DependencyEdge[] = Object.freeze([]);

export const noDependents: readonly string[] = Object.freeze([]);

/**
 * A job as one object literal with every field in a fixed order. Spreading
 * ({ ...job, x }) builds a 33-property object in V8's dictionary mode, four
 * times the size; a literal keeps the compact shape every job shares.
 */
export function jobWith(job: Job, patch?: Partial<Job>): Job {
  // Copied from `job` first and patched after (spreading the two into one object first would build a dictionary-mode object per call).
  const j = job;
  const out: Job = {
    name: j.name, displayName: j.displayName, timezone: j.timezone, schedule: j.schedule, owner: j.owner, ownerEmail: j.ownerEmail,
    disabled: j.disabled, tags: j.tags, metadata: j.metadata, retries: j.retries, parentJob: j.parentJob, processors: j.processors,
    concurrency: j.concurrency, executor: j.executor, executorConfig: j.executorConfig, ephemeral: j.ephemeral,
    startsAtMs: j.startsAtMs, expiresAtMs: j.expiresAtMs, catchUp: j.catchUp,
    // Absent in jobs stored before workflows: parent_job was the only edge.
    dependsOn: j.dependsOn ?? (j.parentJob === '' ? noEdges : [{ job: j.parentJob, on: 'success' }]),
    triggerRule: j.triggerRule ?? 'all', parameters: j.parameters ?? emptyMap, notBefore: j.notBefore ?? '', createdAtMs: j.createdAtMs, updatedAtMs: j.updatedAtMs,
    successCount: j.successCount, errorCount: j.errorCount, lastSuccessMs: j.lastSuccessMs, lastErrorMs: j.lastErrorMs,
    status: j.status, dependentJobs: j.dependentJobs, anchorMs: j.anchorMs, lastScheduledMs: j.lastScheduledMs,
  };
  let notify = job.notify;
  if (patch !== undefined) {
    // Only fields the literal has: assigning them keeps its shape.
    for (const k of Object.keys(patch) as (keyof Job)[]) {
      if (k === 'notify') notify = patch.notify;
      else if (k in out) (out as unknown as Record<string, unknown>)[k] = patch[k];
    }
  }
  // Rare, so only the jobs that have rules carry the field.
  if (notify !== undefined && notify.length > 0) return { ...out, notify };
  return out;
}
