// How the leader runs a job's processors on a finished execution before its
// result is committed. Built-in processors run in-process; processor plugins
// run as programs. The implementations are composed in bin/ (dispatch knows
// nothing of plugins).

/** A finished execution as a processor sees it. */
export interface ProcessedExecution {
  readonly id: string;
  readonly jobName: string;
  /** Epoch milliseconds; 0 when it never started. */
  readonly startedAtMs: number;
  readonly finishedAtMs: number;
  readonly success: boolean;
  readonly output: string;
  readonly nodeName: string;
  readonly attempt: number;
  readonly group: string;
  readonly scheduledAtMs: number;
}

export interface ProcessorHost {
  /**
   * Run one processor. Resolves with the execution to store (only its
   * output is used); rejects with an Error saying what went wrong, e.g. for
   * an unknown processor. Aborting `signal` (the runner's timeout) stops it.
   */
  process(processor: string, execution: ProcessedExecution, config: Readonly<Record<string, string>>, signal: AbortSignal): Promise<ProcessedExecution>;
  /** Check a processor's config at save time: an error message (an unknown name included), or null. */
  validate(processor: string, config: Readonly<Record<string, string>>): string | null;
  /** Names of the processors this host can run. */
  processors(): string[];
}
