// The plugin end of Executor.Session: one long-lived stream from the host
// carrying every execution of the program. Commands arrive in batches
// (execute, stop, credit); output and results go back tagged by execution id,
// as many items per message as one event-loop turn produced, so a burst of
// executions costs a few messages rather than a gRPC call each.
//
// Flow control: each execution may have at most the credit the host granted
// in flight; output beyond it waits here (the sink's whenDrained() tells a
// producer that can pause to do so until it has been sent), and an
// execution's result goes after all its output.

import type * as grpc from '@grpc/grpc-js';
import type { ExecuteRequest__Output } from '../../proto/generated/clocktower/plugin/v1/ExecuteRequest.js';
import type { ExecuteResult as WireResult } from '../../proto/generated/clocktower/plugin/v1/ExecuteResult.js';
import type { SessionEvent } from '../../proto/generated/clocktower/plugin/v1/SessionEvent.js';
import type { SessionItem } from '../../proto/generated/clocktower/plugin/v1/SessionItem.js';
import type { SessionRequest__Output } from '../../proto/generated/clocktower/plugin/v1/SessionRequest.js';
import { ExecErrorCode, failure, type ExecuteResult, type OutputSink } from './executor.js';
import { toWireResult } from './plugin-wire.js';
import { inMessages, maxChunkBytes, outputChunks } from './session-limits.js';

/** Starts one execution (serve-executor.ts): its result, and how to stop it. */
export type StartExecution = (request: ExecuteRequest__Output, output: OutputSink, abort: AbortController) => Promise<ExecuteResult>;

interface SessionExecution {
  credit: number;
  readonly pending: Buffer[];
  result: WireResult | null;
  readonly abort: AbortController;
  readonly drain: (() => void)[];
}

export class PluginSession {
  private readonly executions = new Map<string, SessionExecution>();
  private queue: SessionItem[] = [];
  private flushing = false;
  private closed = false;
  private draining = false;

  constructor(
    private readonly call: grpc.ServerDuplexStream<SessionRequest__Output, SessionEvent>,
    private readonly start: StartExecution,
  ) {
    // The first message says that Session is served (the host falls back to Execute on UNIMPLEMENTED).
    call.write({ items: [] });
    call.on('data', (m: SessionRequest__Output) => this.onRequest(m));
    const gone = () => this.close();
    call.on('cancelled', gone);
    call.on('error', gone);
    // The host has no more to say: what runs is stopped, then the stream ends.
    call.on('end', () => this.drainAndEnd());
  }

  /** Stop everything and end the stream once the results are out (the program is stopping). */
  drainAndEnd(): void {
    this.draining = true;
    for (const e of this.executions.values()) e.abort.abort();
    this.endIfDrained();
  }

  private onRequest(m: SessionRequest__Output): void {
    for (const c of m.commands) {
      if (c.execute?.request) this.execute(c.execute.request, Number(c.execute.credit_bytes));
      else if (c.stop) this.executions.get(c.stop.execution_id)?.abort.abort();
      else if (c.credit) {
        const e = this.executions.get(c.credit.execution_id);
        if (e) {
          e.credit += Number(c.credit.bytes);
          this.pump(c.credit.execution_id, e);
        }
      }
    }
  }

  private execute(r: ExecuteRequest__Output, creditBytes: number): void {
    const id = r.execution_id;
    // A second execution with an id still running here is refused (items are tagged by id).
    if (this.executions.has(id) || this.draining) {
      this.push({ execution_id: id, result: toWireResult(this.draining ? failure('the plugin is stopping', -1, ExecErrorCode.Stopped) : failure(`execution ${id} is already running in this plugin`)) });
      return;
    }
    const state: SessionExecution = { credit: creditBytes > 0 ? creditBytes : maxChunkBytes, pending: [], result: null, abort: new AbortController(), drain: [] };
    this.executions.set(id, state);
    const output: OutputSink = {
      write: (chunk) => {
        const e = this.executions.get(id);
        if (e !== state || this.closed) return;
        e.pending.push(...outputChunks(chunk));
        this.pump(id, e);
      },
      whenDrained: (listener) => {
        if (state.pending.length === 0 || this.executions.get(id) !== state || this.closed) return false;
        state.drain.push(listener);
        return true;
      },
    };
    void this.start(r, output, state.abort).then((result) => {
      if (this.executions.get(id) !== state) return;
      state.result = toWireResult(result);
      this.pump(id, state);
    });
  }

  /** Sends what the credit allows, then the result once all output is out. */
  private pump(id: string, e: SessionExecution): void {
    while (e.pending.length > 0 && e.credit > 0) {
      let chunk = e.pending[0] as Buffer;
      if (chunk.length > e.credit) {
        e.pending[0] = chunk.subarray(e.credit);
        chunk = chunk.subarray(0, e.credit);
      } else {
        e.pending.shift();
      }
      e.credit -= chunk.length;
      this.push({ execution_id: id, output: { data: chunk } });
    }
    if (e.pending.length === 0) {
      for (const listener of e.drain.splice(0)) listener();
      if (e.result) {
        this.executions.delete(id);
        this.push({ execution_id: id, result: e.result });
        this.endIfDrained();
      }
    }
  }

  private push(item: SessionItem): void {
    if (this.closed) return;
    this.queue.push(item);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => this.flush());
    }
  }

  /** Everything queued in this turn, in as few messages as the size cap allows. */
  private flush(): void {
    this.flushing = false;
    const items = this.queue;
    this.queue = [];
    if (this.closed) return;
    for (const batch of inMessages(items, (item) => item.output?.data?.length ?? resultSize(item.result))) this.call.write({ items: batch });
    if (this.draining && this.executions.size === 0 && !this.closed) {
      this.closed = true;
      this.call.end();
    }
  }

  private endIfDrained(): void {
    if (!this.draining || this.executions.size > 0 || this.closed) return;
    if (this.queue.length > 0) return; // flush() ends it after the last items
    this.closed = true;
    this.call.end();
  }

  /** The host went away: stop what runs, send nothing more. */
  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    for (const e of this.executions.values()) {
      e.abort.abort();
      for (const listener of e.drain.splice(0)) listener();
    }
    this.executions.clear();
  }
}

/** About how many bytes a result takes on the wire. */
function resultSize(r: WireResult | null | undefined): number {
  let n = 32 + (r?.error?.length ?? 0) + (r?.error_code?.length ?? 0);
  for (const [k, v] of Object.entries(r?.params_out ?? {})) n += k.length + v.length + 8;
  return n;
}
