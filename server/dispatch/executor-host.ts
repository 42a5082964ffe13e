// How the dispatcher runs one execution. In light mode the host runs the
// executors in-process; in a cluster it sends the execution to an agent.

export interface RunRequest {
  readonly jobName: string;
  readonly config: Readonly<Record<string, string>>;
  readonly executionId: string;
  readonly scheduledAtMs: number;
  readonly attempt: number;
  /** A workflow run's parameters (absent outside a run and without parameters). */
  readonly params?: Readonly<Record<string, string>>;
}

export interface RunOutcome {
  readonly success: boolean;
  readonly exitCode: number;
  /** "" on success; otherwise what went wrong, in plain words. */
  readonly error: string;
  /** A failure's stable code (common/error-codes.ts); absent: CT_EXEC_FAILED (or derived from `lost` / a stop). */
  readonly errorCode?: string;
  /** The node running it went away: the outcome is unknown (recorded as "lost", retried per the job). */
  readonly lost?: boolean;
  /**
   * This server gave the execution up (it stopped leading): it knows no
   * outcome and records none. The execution stays running in the state, and
   * whoever leads next (this server again, too) reattaches to it or settles it.
   */
  readonly abandoned?: boolean;
  /** Parameters the executor handed downstream (a plugin's result). */
  readonly paramsOut?: Readonly<Record<string, string>>;
  /** Part of the output never reached the sink (an agent's tail began after what arrived live): the output is truncated. */
  readonly outputGap?: boolean;
}

export interface OutputSink {
  write(chunk: Uint8Array): void;
}

export interface ExecutorHost {
  /** Never rejects for a job-level failure: that is an outcome with success=false. */
  execute(executor: string, request: RunRequest, output: OutputSink, signal: AbortSignal): Promise<RunOutcome>;
  /** Check an executor's config at save time: an error message, or null when fine (or unknown here). */
  validate?(executor: string, config: Readonly<Record<string, string>>): string | null | Promise<string | null>;
  /** Names of the executors this host can run. */
  executors(): string[];
}
