// A job's processors on one finished execution, on the leader, before the
// result is committed (Dkron's ExecutionDone order). They run one after the
// other in the order the job lists them; each gets the execution as the
// one before left it (so a processor without `forward` hides the output
// from those after it) and Dkron's `reporting_node` in its config. A
// processor that fails, crashes, is unknown or overruns its timeout is
// recorded on the execution's error ("processor syslog failed: ...") and
// the chain goes on: the result itself is never lost or changed, only its
// output (the tail of what the last processor returned) and its error.

import type { ExecutionResult } from '../state/commands.js';
import type { Execution } from '../state/execution.js';
import type { ProcessedExecution, ProcessorHost } from './processor-host.js';
import { OutputTail } from './output-tail.js';
import { setLongTimeout, type LongTimeout } from '../../common/long-timeout.js';

export interface ProcessorRun {
  readonly host: ProcessorHost | undefined;
  /** The job's processors: name -> config, in order. */
  readonly processors: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly reportingNode: string;
  readonly timeoutMs: number;
  readonly outputLimit: number;
}

export async function runProcessors(run: ProcessorRun, execution: Execution, result: ExecutionResult): Promise<ExecutionResult> {
  const original: ProcessedExecution = {
    id: execution.id,
    jobName: execution.jobName,
    startedAtMs: execution.startedAtMs ?? 0,
    finishedAtMs: result.finishedAtMs,
    success: result.state === 'succeeded',
    output: result.output,
    nodeName: execution.nodeName,
    attempt: execution.attempt,
    group: execution.group,
    scheduledAtMs: execution.scheduledAtMs,
  };
  let current = original;
  const errors: string[] = [];
  for (const [name, config] of Object.entries(run.processors)) {
    const host = run.host;
    try {
      if (!host) throw new Error('this server runs no processors');
      const out = await withTimeout(run.timeoutMs, (signal) => host.process(name, current, { ...config, reporting_node: run.reportingNode }, signal));
      if (typeof out.output !== 'string') throw new Error('it answered without an execution output');
      current = { ...current, output: out.output };
    } catch (err) {
      errors.push(`processor ${name} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  let { output, outputTruncated } = result;
  if (current.output !== original.output) {
    const tail = new OutputTail(run.outputLimit);
    tail.write(Buffer.from(current.output, 'utf8'));
    output = tail.text();
    outputTruncated = tail.truncated;
  }
  const error = [result.error, ...errors].filter((e) => e !== '').join('; ');
  return { ...result, output, outputTruncated, error };
}

/** Run `work` with a signal that aborts after `ms`; settles by then even if `work` ignores the signal. */
async function withTimeout<T>(ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  let timer: LongTimeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setLongTimeout(() => {
      const err = new Error(`timed out after ${ms} ms`);
      abort.abort(err);
      reject(err);
    }, ms);
  });
  try {
    return await Promise.race([work(abort.signal), timedOut]);
  } finally {
    timer?.clear();
  }
}
