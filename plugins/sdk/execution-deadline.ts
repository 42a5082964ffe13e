// One execution's time limit and stop signal as a single promise to race
// every step of the run against, so a step that never answers (a silent
// broker, a reply that never comes) ends the run instead of hanging it.

import { parseGoDurationMs } from './go-duration.js';
import { maxTimerDelayMs, setLongTimeout, type LongTimeout } from '../../common/long-timeout.js';
import { ExecErrorCode } from '../../common/error-codes.js';

export class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
  constructor(readonly reason: 'timeout' | 'stopped', message: string) {
    super(message);
  }
}

/** The error code of a run the deadline ended: CT_EXEC_STOPPED or CT_EXEC_TIMEOUT. */
export function deadlineCode(err: DeadlineError): ExecErrorCode {
  return err.reason === 'stopped' ? ExecErrorCode.Stopped : ExecErrorCode.Timeout;
}

/**
 * A `timeout` config value in milliseconds: a Go duration ("5s", "1m30s")
 * or a bare number of seconds ("30"); `fallbackMs` when empty. Throws an
 * Error saying what is wrong.
 */
export function parseTimeoutMs(text: string | undefined, fallbackMs: number): number {
  const s = (text ?? '').trim();
  if (s === '') return fallbackMs;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(s)) ms = Number(s) * 1000;
  else {
    try {
      ms = parseGoDurationMs(s);
    } catch {
      throw new Error(`timeout must be seconds (e.g. 30) or a duration (e.g. 1m30s), not "${text}"`);
    }
  }
  if (!(ms > 0)) throw new Error(`timeout must be more than zero, not "${text}"`);
  return ms;
}

/**
 * A timeout to hand to a client library, which arms one Node timer with it
 * (a longer delay would fire at once): at most 2^31-1 ms (24.8 days). The
 * run's ExecutionDeadline still ends it at the full time.
 */
export function libraryTimeoutMs(ms: number): number {
  return Math.min(ms, maxTimerDelayMs);
}

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

export class ExecutionDeadline {
  /** Rejects with a DeadlineError when the time is up or the run is stopped. */
  readonly expired: Promise<never>;
  private timer: LongTimeout | undefined;
  private readonly onAbort: () => void;
  private reason: 'timeout' | 'stopped' | null = null;

  constructor(readonly timeoutMs: number, private readonly signal: AbortSignal) {
    let reject: (err: DeadlineError) => void = () => {};
    this.expired = new Promise<never>((_, r) => (reject = r));
    const fail = (err: DeadlineError) => {
      this.reason ??= err.reason;
      reject(err);
    };
    this.expired.catch(() => {}); // raced by every step; never unhandled
    this.onAbort = () => fail(new DeadlineError('stopped', 'stopped'));
    this.timer = setLongTimeout(() => fail(new DeadlineError('timeout', `timed out after ${formatMs(timeoutMs)}`)), timeoutMs);
    if (signal.aborted) this.onAbort();
    else signal.addEventListener('abort', this.onAbort, { once: true });
  }

  /** `step`, unless the deadline passes or the run is stopped first. */
  race<T>(step: Promise<T>): Promise<T> {
    return Promise.race([step, this.expired]);
  }

  /** Why the deadline passed, or null while it has not. */
  expiredReason(): 'timeout' | 'stopped' | null {
    return this.reason;
  }

  dispose(): void {
    this.timer?.clear();
    this.timer = undefined;
    this.signal.removeEventListener('abort', this.onAbort);
  }
}
