// The executor interface: what every executor implements, in-process (light
// mode) or as a plugin program behind proto/plugin.proto's Executor service.
// Its shapes map one-to-one onto ExecuteRequest / ExecuteEvent.

export { ExecErrorCode, errorCodeOf } from '../../common/error-codes.js';

export interface ExecuteRequest {
  readonly jobName: string;
  readonly config: Readonly<Record<string, string>>;
  /** Lets an executor be idempotent across redelivery. */
  readonly executionId: string;
  readonly scheduledAtMs: number;
  readonly attempt: number;
  /** A workflow run's parameters (absent or empty outside a run). */
  readonly params?: Readonly<Record<string, string>>;
}

export interface ExecuteResult {
  readonly success: boolean;
  /** The process exit code, an HTTP status, or -1 when there is none. */
  readonly exitCode: number;
  /** "" on success; otherwise what went wrong, in plain words. */
  readonly error: string;
  /** Parameters for the run's downstream tasks. */
  readonly paramsOut?: Readonly<Record<string, string>>;
  /**
   * A failure's stable code (ExecErrorCode: "CT_EXEC_TIMEOUT", ...), which
   * travels with the message to the server and the REST API. Absent or ""
   * on a failure: CT_EXEC_FAILED. Ignored on success.
   */
  readonly errorCode?: string;
}

export interface OutputSink {
  write(chunk: Uint8Array): void;
  /**
   * Flow control, where the sink has it (a plugin's Session): true when
   * written output waits in memory because the receiver is behind; then
   * `listener` is called once it has all been sent. A producer that can
   * pause (a child's pipe) should, until then. False: nothing waits.
   */
  whenDrained?(listener: () => void): boolean;
}

export interface Executor {
  readonly name: string;
  /**
   * executor_config keys whose values are secrets (a password, a token, a
   * key file's contents). The server redacts them as it does keys named like
   * a secret (password, token, secret, *_key, ...) wherever the job is shown
   * to someone below write on it; declare the ones the name rule misses.
   * A plugin program sends them when its host asks (the Describe call);
   * on the host's side null means not known yet (the program has not
   * started and answered).
   */
  readonly secretKeys?: readonly string[] | null;
  /**
   * Run once, streaming output to `output` as it is produced (never
   * buffering all of it). Never rejects for a job-level failure: that is a
   * result with success=false. Aborting `signal` stops the run.
   */
  execute(request: ExecuteRequest, output: OutputSink, signal: AbortSignal): Promise<ExecuteResult>;
  /** Check a config at save time: an error message, or null (a plugin program answers asynchronously). */
  validate?(config: Readonly<Record<string, string>>): string | null | Promise<string | null>;
  close?(): Promise<void>;
}

/** A failed result; `errorCode` names the kind of failure (ExecErrorCode; none given: CT_EXEC_FAILED downstream). */
export function failure(error: string, exitCode = -1, errorCode?: string): ExecuteResult {
  return errorCode === undefined ? { success: false, exitCode, error } : { success: false, exitCode, error, errorCode };
}
