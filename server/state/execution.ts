// An execution record: one attempt of one fire of one job on one node.

/**
 * pending: committed, waiting for its start time (a retry's backoff);
 * running: dispatched; succeeded / failed: finished with that result;
 * stopped: killed on request; lost: its node went away while it ran.
 */
export type ExecutionState = 'pending' | 'running' | 'succeeded' | 'failed' | 'stopped' | 'lost';

/** Why an execution exists. */
export type Trigger = 'schedule' | 'manual' | 'retry' | 'parent';

export interface Execution {
  /** Unique, assigned by the state machine from a counter. */
  readonly id: string;
  readonly jobName: string;
  /** The id shared by every attempt of one fire (Dkron's `group`). */
  readonly group: string;
  readonly attempt: number;
  readonly trigger: Trigger;
  /** The scheduled time this run belongs to (for manual and child runs: when it was asked for). */
  readonly scheduledAtMs: number;
  readonly nodeName: string;
  /** Not to be started before this time (retries wait out their backoff). */
  readonly notBeforeMs: number;
  readonly startedAtMs: number | null;
  readonly finishedAtMs: number | null;
  readonly state: ExecutionState;
  /** The tail of the output, at most the output limit. */
  readonly output: string;
  readonly outputTruncated: boolean;
  readonly exitCode: number | null;
  readonly error: string;
  /** A finished failure's stable code (CT_EXEC_*); absent on success, while running, and for executions recorded before codes existed. */
  readonly errorCode?: string;
  /** The workflow run it belongs to (absent: none). */
  readonly runId?: string;
  /** Parameters of a run-less execution asked for with `POST /v1/jobs/{name}/run` (absent: the job's defaults). */
  readonly parameters?: Readonly<Record<string, string>>;
  /** Parameters it handed downstream (`::set-param`). */
  readonly paramsOut?: Readonly<Record<string, string>>;
}

export function isFinished(e: Execution): boolean {
  return e.state !== 'pending' && e.state !== 'running';
}

export function isSuccess(e: Execution): boolean {
  return e.state === 'succeeded';
}

/** Scheduled times that will never run, and why. */
export type SkipReason =
  | 'catch_up_none'
  | 'superseded'
  | 'over_cap'
  | 'past_deadline'
  | 'before_starts_at'
  | 'after_expires_at'
  | 'forbid_running'
  | 'disabled'
  | 'paused';

export interface SkippedFires {
  readonly jobName: string;
  readonly firstMs: number;
  readonly lastMs: number;
  readonly count: number;
  readonly reason: SkipReason;
  /** When the leader decided to skip them. */
  readonly recordedAtMs: number;
}
