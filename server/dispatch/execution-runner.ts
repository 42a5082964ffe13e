// Runs committed executions through the executor host, keeps the tail of
// their output, runs the job's processors on each result, and commits the
// results in batches: results that finish together (an agent's batch of
// results is settled in one pass; the commit waits for the microtasks that
// pass queued) go out in one command, and while one FinishExecutions command
// is in flight, results that arrive meanwhile wait and go out together in
// the next ones.
// A batch holds at most `maxBatchBytes` of encoded results (one result more
// than that goes alone), so no log entry grows with the number of results
// that finish together. A batch the log refuses as too large (an etcd with a
// small --max-request-bytes) is split, and the smaller size kept; one result
// refused alone is committed again with half its output.

import { CommandType, encodedResultBytes, type ExecutionResult } from '../state/commands.js';
import type { CommandLog } from '../state/command-log.js';
import type { Execution } from '../state/execution.js';
import type { Job } from '../state/job.js';
import type { NotificationSpec } from '../state/notification.js';
import type { ExecutorHost, RunOutcome } from './executor-host.js';
import { fitTail, OutputTail } from './output-tail.js';
import type { ProcessorHost } from './processor-host.js';
import { runProcessors } from './run-processors.js';
import { isTooLarge } from './too-large.js';
import { paramsFromOutput } from '../scheduler/workflow-template.js';
import { ExecErrorCode, errorCodeOf } from '../../common/error-codes.js';

/** How long one processor may take on one execution, unless the options say otherwise. */
export const defaultProcessorTimeoutMs = 30_000;

/** Encoded bytes of results per FinishExecutions command (default). */
export const defaultMaxBatchBytes = 1024 * 1024;
/** The most encoded bytes one result may take; a larger one is cut to fit (its output's start, then its error's end). */
export const maxResultBytes = 3 * 1024 * 1024;
/** The most bytes of an execution's error message that are kept. */
export const maxErrorBytes = 64 * 1024;

export interface RunnerOptions {
  readonly log: CommandLog;
  readonly host: ExecutorHost;
  readonly now: () => number;
  readonly job: (name: string) => Job | undefined;
  /** Bytes of output kept per execution (the tail). */
  readonly outputLimit: number;
  /** Executions created by a result (retries, child jobs) go here. */
  readonly onCreated: (executions: readonly Execution[]) => void;
  readonly onError: (err: unknown) => void;
  /** Runs jobs' processors; without it, a job's processors are recorded as failed. */
  readonly processors?: ProcessorHost | undefined;
  /** Looks up the execution of a result given to finish(), for its processors. */
  readonly execution?: ((id: string) => Execution | undefined) | undefined;
  /** Given to processors as `reporting_node` (Dkron's). */
  readonly nodeName?: string | undefined;
  readonly processorTimeoutMs?: number | undefined;
  /** Encoded bytes of results per FinishExecutions command (default 1 MiB). */
  readonly maxBatchBytes?: number | undefined;
  /** The deliveries a result owes (the notifier's), committed with it; never throws. */
  readonly notifications?: ((result: ExecutionResult) => readonly NotificationSpec[]) | undefined;
  /** The config an execution runs with (templates rendered), or why it cannot run; default: the job's own. */
  readonly prepare?: ((execution: Execution, job: Job) => { config: Readonly<Record<string, string>>; params?: Readonly<Record<string, string>> } | { error: string }) | undefined;
}

export interface RunningExecution {
  readonly execution: Execution;
  readonly output: OutputTail;
  readonly abort: AbortController;
}

export class ExecutionRunner {
  private readonly running = new Map<string, RunningExecution>();
  private queue: ExecutionResult[] = [];
  /** The deliveries owed by queued results, by execution id. */
  private readonly owed = new Map<string, readonly NotificationSpec[]>();
  private flushing = false;
  /** A flush is due once the current microtasks have run. */
  private flushQueued = false;
  /** Results whose processors are running. */
  private processing = 0;
  private idleWaiters: (() => void)[] = [];
  /** Bytes per batch: the option's, lowered when the log refused a batch as too large. */
  private batchBytes: number;

  constructor(private readonly options: RunnerOptions) {
    this.batchBytes = options.maxBatchBytes ?? defaultMaxBatchBytes;
  }

  /** Running executions with their live output. */
  busy(): RunningExecution[] {
    return [...this.running.values()];
  }

  isRunning(id: string): boolean {
    return this.running.has(id);
  }

  run(execution: Execution): void {
    if (this.running.has(execution.id)) return;
    const { host, outputLimit } = this.options;
    const output = new OutputTail(outputLimit);
    const abort = new AbortController();
    const mine: RunningExecution = { execution, output, abort };
    this.running.set(execution.id, mine);
    const job = this.options.job(execution.jobName);
    const prepared = job ? (this.options.prepare?.(execution, job) ?? { config: job.executorConfig }) : null;
    const started: Promise<RunOutcome> = !job
      ? Promise.resolve({ success: false, exitCode: -1, error: `job ${execution.jobName} was deleted before it ran` })
      : prepared !== null && 'error' in prepared
      ? Promise.resolve({ success: false, exitCode: -1, error: prepared.error, errorCode: ExecErrorCode.ConfigInvalid })
      : host.execute(job.executor, {
          jobName: job.name,
          config: prepared?.config ?? job.executorConfig,
          ...(prepared?.params !== undefined && Object.keys(prepared.params).length > 0 ? { params: prepared.params } : {}),
          executionId: execution.id,
          scheduledAtMs: execution.scheduledAtMs,
          attempt: execution.attempt,
        }, output, abort.signal);
    started
      .catch((err: unknown): RunOutcome => ({ success: false, exitCode: -1, error: `executor failed: ${err instanceof Error ? err.message : String(err)}` }))
      .then(async (outcome) => {
        if (outcome.abandoned === true) {
          // Given up on a step-down: nothing to record, and no longer running
          // here, so that leading again reattaches to it.
          if (this.running.get(execution.id) === mine) this.running.delete(execution.id);
          this.settleIdle();
          return;
        }
        const stopped = abort.signal.aborted;
        if (outcome.error !== '' && !outcome.success) output.write(Buffer.from(`\n${outcome.error}\n`));
        const lostRun = 'lost' in outcome && outcome.lost === true;
        const errorCode = stopped ? ExecErrorCode.Stopped : lostRun ? ExecErrorCode.AgentLost : errorCodeOf(outcome);
        let result: ExecutionResult = {
          id: execution.id,
          finishedAtMs: this.options.now(),
          state: stopped ? 'stopped' : outcome.success ? 'succeeded' : lostRun ? 'lost' : 'failed',
          output: output.text(),
          outputTruncated: output.truncated || outcome.outputGap === true,
          exitCode: outcome.exitCode,
          error: stopped ? 'stopped on request' : outcome.error,
          ...(errorCode !== '' ? { errorCode } : {}),
        };
        // The executor's own (a plugin's result), then the output's ::set-param lines.
        const paramsOut = { ...(outcome.paramsOut ?? {}), ...paramsFromOutput(result.output) };
        if (Object.keys(paramsOut).length > 0) result = { ...result, paramsOut };
        // Still "running" (busy, not an orphan) until its processors are done.
        const processed = this.hasProcessors(execution) ? await this.process(execution, result) : result;
        if (this.running.get(execution.id) === mine) this.running.delete(execution.id);
        this.enqueue(processed);
      });
  }

  /** Stop a running execution (its process tree for shell). */
  stop(id: string): boolean {
    const r = this.running.get(id);
    if (!r) return false;
    r.abort.abort();
    return true;
  }

  /** Record a result without running anything (e.g. an execution lost in a restart); its job's processors still run. */
  finish(result: ExecutionResult): void {
    const execution = this.options.execution?.(result.id);
    if (!execution || !this.hasProcessors(execution)) {
      this.enqueue(result);
      return;
    }
    this.processing++;
    void this.process(execution, result).then((processed) => {
      this.processing--;
      this.enqueue(processed);
    });
  }

  private hasProcessors(execution: Execution): boolean {
    const job = this.options.job(execution.jobName);
    return job !== undefined && Object.keys(job.processors).length > 0;
  }

  /** Never rejects: a processor's failure is recorded on the result. */
  private process(execution: Execution, result: ExecutionResult): Promise<ExecutionResult> {
    const { processors, nodeName, processorTimeoutMs, outputLimit } = this.options;
    return runProcessors({
      host: processors,
      processors: this.options.job(execution.jobName)?.processors ?? {},
      reportingNode: nodeName ?? '',
      timeoutMs: processorTimeoutMs ?? defaultProcessorTimeoutMs,
      outputLimit,
    }, execution, result).catch((err: unknown) => ({ ...result, error: [result.error, `processors failed: ${String(err)}`].filter((e) => e !== '').join('; ') }));
  }

  private enqueue(result: ExecutionResult): void {
    const bounded = boundResult(result);
    const owed = this.options.notifications?.(bounded) ?? [];
    if (owed.length > 0) this.owed.set(bounded.id, owed);
    this.queue.push(bounded);
    if (this.flushing || this.flushQueued) return;
    // Not at once: the other results settled in the same pass (their
    // continuations are queued before this one) go in the same command.
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const extra = (r: ExecutionResult) => specBytes(this.owed.get(r.id));
        const results = takeBatch(this.queue, this.batchBytes, extra);
        const notifications = results.flatMap((r) => this.owed.get(r.id) ?? []);
        try {
          const res = await this.options.log.submit({
            type: CommandType.FinishExecutions, atMs: this.options.now(), results, ...(notifications.length > 0 ? { notifications } : {}),
          });
          for (const r of results) this.owed.delete(r.id);
          if (res.ok && res.executions.length > 0) this.options.onCreated(res.executions);
        } catch (err) {
          const [only] = results;
          if (isTooLarge(err) && results.length > 1) {
            // Nothing of it was committed: again, in smaller batches.
            this.batchBytes = Math.max(1, Math.floor(results.reduce((n, r) => n + encodedResultBytes(r) + extra(r) + 1, 0) / 2));
            this.queue.unshift(...results);
            continue;
          }
          const smaller = only && isTooLarge(err) ? halveOutput(only) : null;
          if (smaller) {
            this.queue.unshift(smaller);
            continue;
          }
          for (const r of results) this.owed.delete(r.id);
          // Not committed (e.g. no longer leader): the next leader finds these
          // executions still running and settles them.
          this.options.onError(err);
        }
      }
    } finally {
      this.flushing = false;
      this.settleIdle();
    }
  }

  private settleIdle(): void {
    if (this.running.size === 0 && this.processing === 0 && !this.flushing && !this.flushQueued && this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Stop everything running and wait until the results are committed (or dropped). */
  async shutdown(): Promise<void> {
    for (const r of this.running.values()) r.abort.abort();
    if (this.running.size === 0 && this.processing === 0 && !this.flushing && !this.flushQueued && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }
}

/**
 * Remove and return the first results of `queue` whose encoded size stays
 * within `maxBytes` (always at least one), in order.
 */
export function takeBatch(queue: ExecutionResult[], maxBytes: number, extraBytes: (r: ExecutionResult) => number = () => 0): ExecutionResult[] {
  let bytes = 0;
  let n = 0;
  for (const r of queue) {
    bytes += encodedResultBytes(r) + extraBytes(r) + 1;
    if (n > 0 && bytes > maxBytes) break;
    n++;
  }
  return queue.splice(0, n);
}

/** About the bytes deliveries add to a command (their bodies dominate). */
function specBytes(specs: readonly NotificationSpec[] | undefined): number {
  let n = 0;
  for (const s of specs ?? []) n += Buffer.byteLength(s.body) + s.subject.length + s.url.length + 200;
  return n;
}

/** A result that fits one log entry: its error at most maxErrorBytes, the whole at most maxResultBytes. */
export function boundResult(result: ExecutionResult): ExecutionResult {
  let r = result;
  const error = fitHead(r.error, maxErrorBytes);
  if (error !== r.error) r = { ...r, error };
  const over = encodedResultBytes(r) - maxResultBytes;
  if (over > 0) {
    const output = fitTail(r.output, Math.max(0, Buffer.byteLength(r.output) - over));
    r = { ...r, output, outputTruncated: true };
  }
  return r;
}

/** The result with the later half of its output (none: it has no output left to cut). */
function halveOutput(r: ExecutionResult): ExecutionResult | null {
  const bytes = Buffer.byteLength(r.output);
  if (bytes === 0) return null;
  return { ...r, output: fitTail(r.output, Math.floor(bytes / 2)), outputTruncated: true };
}

/** The longest head of `text` whose UTF-8 is at most `limit` bytes, cut at a character boundary. */
function fitHead(text: string, limit: number): string {
  if (text.length * 3 <= limit) return text;
  const utf8 = Buffer.from(text, 'utf8');
  if (utf8.length <= limit) return text;
  let end = limit;
  while (end > 0 && ((utf8[end] ?? 0) & 0xc0) === 0x80) end--;
  return utf8.subarray(0, end).toString('utf8');
}
