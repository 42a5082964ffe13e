// The processor interface: what every processor implements, in-process
// (light mode) or as a plugin program behind proto/plugin.proto's Processor
// service. A processor receives a finished execution and the job's config
// for it, sends the output somewhere (a log, files, syslog, Fluentd), and
// returns the execution, possibly with its output replaced. Its shapes map
// one-to-one onto the proto's Execution / ProcessRequest.

import { isGoTrue } from './go-bool.js';

export interface ExecutionRecord {
  readonly id: string;
  readonly jobName: string;
  /** Epoch milliseconds; 0 when it never started. */
  readonly startedAtMs: number;
  readonly finishedAtMs: number;
  readonly success: boolean;
  readonly output: Uint8Array;
  /** The node that ran it. */
  readonly nodeName: string;
  readonly attempt: number;
  readonly group: string;
  readonly scheduledAtMs: number;
}

export interface Processor {
  readonly name: string;
  /**
   * Handle one finished execution. Resolves with the execution to store
   * (only its output is taken); rejects with an Error that says what went
   * wrong. Aborting `signal` (the host's timeout) should stop any I/O.
   */
  process(execution: ExecutionRecord, config: Readonly<Record<string, string>>, signal: AbortSignal): Promise<ExecutionRecord>;
  /** Check a config at save time: an error message, or null. */
  validate?(config: Readonly<Record<string, string>>): string | null;
  close?(): Promise<void>;
}

/**
 * Dkron's `forward` key: "true" keeps the full output in the execution
 * record; anything else (default, or unparsable) replaces it with a short
 * placeholder that says where the output went. Parsed as Go's ParseBool.
 */
export function forwards(config: Readonly<Record<string, string>>): boolean {
  return isGoTrue(config['forward']);
}

/** The execution as stored after a processor that sent the output elsewhere. */
export function forwardedOr(execution: ExecutionRecord, config: Readonly<Record<string, string>>, placeholder: string): ExecutionRecord {
  return forwards(config) ? execution : { ...execution, output: Buffer.from(placeholder) };
}

/** The config key (if any) that is not one of `known`, as an error message. */
export function unknownKey(processor: string, config: Readonly<Record<string, string>>, known: readonly string[]): string | null {
  const extra = Object.keys(config).filter((k) => !known.includes(k) && k !== 'reporting_node');
  return extra.length === 0 ? null : `processor ${processor}: unknown config key ${extra.map((k) => JSON.stringify(k)).join(', ')} (known: ${known.join(', ')})`;
}

/** Reject when `signal` aborts, with the signal's reason. */
export function abortable<T>(signal: AbortSignal, work: Promise<T>): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}
