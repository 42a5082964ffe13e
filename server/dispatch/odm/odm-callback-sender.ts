// Clocktower as an ODM executor service: the leader calls the platform back.
//
// When an inbound task's executions settle, the state holds its result and
// an undelivered callback. The leader PATCHes `callbackRef` with
// `{taskId, status, results}` and retries with backoff until the platform
// answers 2xx, then commits OdmCallbackDelivered. The pending callback is
// replicated state, so a new leader (or this one after a restart) picks up
// whatever was not delivered.

import { request } from 'undici';
import { CommandType } from '../../state/commands.js';
import type { CommandLog } from '../../state/command-log.js';
import type { InboundTask } from '../../state/odm-tasks.js';
import type { StateMachine } from '../../state/state-machine.js';

export interface CallbackSenderOptions {
  readonly state: StateMachine;
  readonly log: CommandLog;
  readonly now: () => number;
  /** First retry delay; doubles up to maxBackoffMs. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly requestTimeoutMs?: number;
  readonly onError?: (message: string) => void;
}

export class OdmCallbackSender {
  private leading = false;
  private closed = false;
  private unsubscribe: (() => void) | null = null;
  /** Task ids being delivered now. */
  private readonly sending = new Map<string, AbortController>();

  constructor(private readonly options: CallbackSenderOptions) {}

  startLeading(): void {
    if (this.leading || this.closed) return;
    this.leading = true;
    this.unsubscribe = this.options.state.odm.subscribe((ev) => {
      if (ev.kind === 'task' && ev.task.status !== 'PROCESSING' && !ev.task.delivered) this.deliver(ev.task);
    });
    for (const t of this.options.state.odm.undelivered()) this.deliver(t);
  }

  stopLeading(): void {
    this.leading = false;
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const a of this.sending.values()) a.abort();
    this.sending.clear();
  }

  /** Stop for good: a late leadership announcement during shutdown starts nothing. */
  close(): void {
    this.closed = true;
    this.stopLeading();
  }

  private deliver(task: InboundTask): void {
    if (this.sending.has(task.taskId)) return;
    const abort = new AbortController();
    this.sending.set(task.taskId, abort);
    void this.loop(task, abort.signal).finally(() => {
      if (this.sending.get(task.taskId)?.signal === abort.signal) this.sending.delete(task.taskId);
    });
  }

  private async loop(task: InboundTask, signal: AbortSignal): Promise<void> {
    const { minBackoffMs = 100, maxBackoffMs = 30_000, requestTimeoutMs = 30_000, onError } = this.options;
    const body = JSON.stringify({ taskId: task.taskId, status: task.status, results: task.results });
    let delay = minBackoffMs;
    while (!signal.aborted) {
      let problem: string;
      try {
        const res = await request(task.callbackRef, {
          method: 'PATCH', headers: { 'content-type': 'application/json' }, body, signal,
          headersTimeout: requestTimeoutMs, bodyTimeout: requestTimeoutMs,
        });
        const text = await res.body.text();
        if (res.statusCode >= 200 && res.statusCode < 300) {
          await this.options.log.submit({ type: CommandType.OdmCallbackDelivered, atMs: this.options.now(), taskId: task.taskId });
          return;
        }
        problem = `${res.statusCode} ${text.slice(0, 200)}`;
      } catch (err) {
        if (signal.aborted) return;
        problem = err instanceof Error ? err.message : String(err);
      }
      onError?.(`odm: callback for task ${task.taskId} to ${task.callbackRef}: ${problem}; retrying in ${delay} ms`);
      await sleep(delay, signal);
      delay = Math.min(delay * 2, maxBackoffMs);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
