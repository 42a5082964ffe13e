// The job model: what a user defines (Dkron's job fields) plus the
// bookkeeping the state machine keeps. Times are epoch milliseconds.

export type Concurrency = 'allow' | 'forbid';

/** What to do with fires that fell due while no scheduler was running. */
export type CatchUpMode = 'none' | 'latest' | 'all';

export interface CatchUpPolicy {
  readonly mode: CatchUpMode;
  /** With mode `all`: run at most this many missed fires (the latest ones). */
  readonly max: number;
  /** A missed fire older than this is skipped, whatever the mode. */
  readonly startingDeadlineMs: number;
}

export const defaultCatchUp: CatchUpPolicy = { mode: 'latest', max: 10, startingDeadlineMs: 3_600_000 };

/**
 * When a job's notification rule fires: `failure` after a failed execution,
 * `recovery` after a success that follows a failed run of the job, `always`
 * after every execution, `start` when an execution starts. (After the last
 * attempt only: a failure that will be retried notifies nothing yet.)
 */
export type NotifyOn = 'failure' | 'recovery' | 'always' | 'start';
export const notifyOns: readonly NotifyOn[] = ['failure', 'recovery', 'always', 'start'];

/** One of a job's `notify` rules: mail to `email`, POST to `webhook`, or both, with `payload` as the body. */
export interface NotifyRule {
  readonly on: NotifyOn;
  readonly email: readonly string[];
  /** "" for none. */
  readonly webhook: string;
  /** A template (Dkron's variables); "" for the default body. */
  readonly payload: string;
}

/** Which upstream outcome satisfies an edge: `done` is any end, skipped included. */
export type EdgeOn = 'success' | 'failure' | 'done';

/** One edge of a workflow: this job runs after `job` ended as `on` says (and, if given, its output / exit code match). */
export interface DependencyEdge {
  readonly job: string;
  readonly on: EdgeOn;
  /** A regular expression the upstream execution's output must match. */
  readonly outputMatches?: string;
  readonly exitCode?: number;
}

/** `all`: every edge satisfied; `any`: one edge satisfied (the task still runs once per run). */
export type TriggerRule = 'all' | 'any';

/** A job as the user defines it. */
export interface JobSpec {
  readonly name: string;
  readonly displayName: string;
  /** IANA zone for evaluating `schedule`; "" means UTC. */
  readonly timezone: string;
  readonly schedule: string;
  readonly owner: string;
  readonly ownerEmail: string;
  readonly disabled: boolean;
  readonly tags: Readonly<Record<string, string>>;
  readonly metadata: Readonly<Record<string, string>>;
  readonly retries: number;
  readonly parentJob: string;
  readonly processors: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly concurrency: Concurrency;
  readonly executor: string;
  readonly executorConfig: Readonly<Record<string, string>>;
  readonly ephemeral: boolean;
  readonly startsAtMs: number | null;
  readonly expiresAtMs: number | null;
  readonly catchUp: CatchUpPolicy;
  /** Notification rules (absent or empty: none; the server's Dkron settings still apply). */
  readonly notify?: readonly NotifyRule[] | undefined;
  /**
   * The job's upstream edges (absent in jobs written before workflows; then
   * `parentJob` is the only edge). Stored jobs hold every edge here, and
   * `parentJob` names the upstream when it is the only edge, on success,
   * without conditions (Dkron's parent_job).
   */
  readonly dependsOn?: readonly DependencyEdge[];
  readonly triggerRule?: TriggerRule;
  /** Default run parameters. */
  readonly parameters?: Readonly<Record<string, string>>;
  /** Inside a run, the task waits until this time: RFC3339, or a template such as `{{ .Params.ship_at }}` ("" : none). */
  readonly notBefore?: string;
}

/** The upstream edges of a job, old (parent_job only) or new. */
export function edgesOf(spec: Pick<JobSpec, 'parentJob' | 'dependsOn'>): readonly DependencyEdge[] {
  const edges = spec.dependsOn ?? [];
  if (spec.parentJob === '' || edges.some((e) => e.job === spec.parentJob)) return edges;
  return [{ job: spec.parentJob, on: 'success' }, ...edges];
}

/** A plain success edge, the kind Dkron's parent_job makes. */
export function isPlainEdge(e: DependencyEdge): boolean {
  return e.on === 'success' && e.outputMatches === undefined && e.exitCode === undefined;
}

/**
 * The edges with `parent_job` folded in (its edge is added unless the job
 * names that upstream already), and the parent_job that answers show: the
 * upstream of a sole plain success edge, else "".
 */
export function normalizeEdges(spec: Pick<JobSpec, 'parentJob' | 'dependsOn'>): { dependsOn: DependencyEdge[]; parentJob: string } {
  const edges = [...(spec.dependsOn ?? [])];
  if (spec.parentJob !== '' && !edges.some((e) => e.job === spec.parentJob)) edges.unshift({ job: spec.parentJob, on: 'success' });
  const only = edges.length === 1 ? edges[0] : undefined;
  return { dependsOn: edges, parentJob: only !== undefined && isPlainEdge(only) ? only.job : '' };
}

export type JobStatus = '' | 'success' | 'failed' | 'partially_failed';

/** A job as stored: the spec plus what the state machine keeps about it. */
export interface Job extends JobSpec {
  /** When the job was first created; `@every` schedules are anchored here. */
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  readonly successCount: number;
  readonly errorCount: number;
  readonly lastSuccessMs: number | null;
  readonly lastErrorMs: number | null;
  readonly status: JobStatus;
  readonly dependentJobs: readonly string[];
  /** `@every` schedules keep their phase from here: set when the schedule or zone last changed. */
  readonly anchorMs: number;
  /**
   * The scheduler's bookkeeping: every scheduled time up to here is committed
   * as fired or skipped. Set to the command time on create, on a schedule
   * change and on re-enable, so time spent disabled is not "missed".
   */
  readonly lastScheduledMs: number;
}

export type JobChange = 'create' | 'update' | 'toggle' | 'delete' | 'restore' | 'import' | 'expire';

/** One recorded change of a job: who (a token accessor), when (the leader's time) and what it became. */
export interface JobVersion {
  /** 1, 2, ... per job name, never reused (also across a delete and a new create). */
  readonly n: number;
  readonly atMs: number;
  readonly by: string;
  readonly change: JobChange;
  /** The job as this change left it (the stored, immutable job object itself: no copy); null for a delete. */
  readonly spec: JobSpec | null;
  /** For a rollback: the version it restored. */
  readonly restoredFrom?: number;
}
