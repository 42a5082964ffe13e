// The host end of Executor.Session: one long-lived stream to a plugin
// program that carries all of its executions. Commands (execute, stop,
// credit) queued in one event-loop turn go out as one message; the plugin
// answers with output and results tagged by execution id, many per message.
//
// Flow control: each execution starts with creditWindowBytes of credit; the
// host grants more as it hands output to the execution's sink, so the
// plugin never has more than the window of an execution's output in flight
// and a 50 MB output never piles up here (the sink keeps its own tail).
//
// open() waits for the plugin's first message: a plugin built before
// Session answers UNIMPLEMENTED instead, and the caller uses Execute.
// A stream that breaks fails every execution in flight on it.

import * as grpc from '@grpc/grpc-js';
import type { ExecutorClient } from '../../proto/generated/clocktower/plugin/v1/Executor.js';
import type { SessionCommand } from '../../proto/generated/clocktower/plugin/v1/SessionCommand.js';
import type { SessionEvent__Output } from '../../proto/generated/clocktower/plugin/v1/SessionEvent.js';
import type { SessionRequest } from '../../proto/generated/clocktower/plugin/v1/SessionRequest.js';
import { ExecErrorCode, failure, type ExecuteRequest, type ExecuteResult, type OutputSink } from './executor.js';
import { fromWireResult, toWireRequest } from './plugin-wire.js';
import { creditEveryBytes, creditWindowBytes, inMessages } from './session-limits.js';

interface InFlight {
  readonly output: OutputSink;
  readonly done: (r: ExecuteResult) => void;
  /** Output consumed since the last credit sent. */
  unacked: number;
}

export class HostSession {
  private readonly inFlight = new Map<string, InFlight>();
  private queue: SessionCommand[] = [];
  private flushing = false;
  private broken = false;

  private constructor(private readonly call: grpc.ClientDuplexStream<SessionRequest, SessionEvent__Output>) {}

  /**
   * Open a session: the session once the plugin's first message came, null
   * when the plugin does not serve Session (UNIMPLEMENTED). Rejects with the
   * call's error otherwise. `failed` is told why, when the stream breaks later.
   */
  static open(client: ExecutorClient, helloTimeoutMs: number, failed: (err: grpc.ServiceError | null) => Promise<string>): Promise<HostSession | null> {
    const call = client.Session();
    const session = new HostSession(call);
    return new Promise((resolve, reject) => {
      let opened = false;
      const first = (then: () => void) => {
        if (opened) return false;
        opened = true;
        clearTimeout(timer);
        then();
        return true;
      };
      // A plugin that accepts the stream but never says hello is treated as one without Session.
      const timer = setTimeout(() => first(() => {
        session.broken = true;
        call.cancel();
        resolve(null);
      }), helloTimeoutMs);
      call.on('data', (m: SessionEvent__Output) => {
        first(() => resolve(session));
        session.onEvent(m);
      });
      call.on('error', (err: grpc.ServiceError) => {
        const early = first(() => {
          session.broken = true;
          if (err.code === grpc.status.UNIMPLEMENTED) resolve(null);
          else reject(err);
        });
        if (!early) session.breakWith(failed(err));
      });
      call.on('end', () => {
        const early = first(() => {
          session.broken = true;
          reject(new Error('the plugin ended its session at once'));
        });
        if (!early) session.breakWith(failed(null));
      });
    });
  }

  /** False once the stream has ended or failed: open another. */
  get usable(): boolean {
    return !this.broken;
  }

  /** Whether an execution with this id is in flight here (items are tagged by id). */
  has(executionId: string): boolean {
    return this.inFlight.has(executionId);
  }

  execute(req: ExecuteRequest, output: OutputSink, signal: AbortSignal): Promise<ExecuteResult> {
    const id = req.executionId;
    if (this.broken) return Promise.resolve(failure('the plugin session has ended', -1, ExecErrorCode.PluginCrashed));
    return new Promise<ExecuteResult>((resolve) => {
      const onAbort = () => this.send({ stop: { execution_id: id } });
      const done = (r: ExecuteResult) => {
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      };
      this.inFlight.set(id, { output, done, unacked: 0 });
      this.send({
        execute: {
          request: toWireRequest(req),
          credit_bytes: creditWindowBytes,
        },
      });
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private onEvent(m: SessionEvent__Output): void {
    for (const item of m.items) {
      const f = this.inFlight.get(item.execution_id);
      if (!f) continue;
      if (item.output) {
        const data = item.output.data;
        f.output.write(data);
        f.unacked += data.length;
        if (f.unacked >= creditEveryBytes) {
          this.send({ credit: { execution_id: item.execution_id, bytes: f.unacked } });
          f.unacked = 0;
        }
      } else if (item.result) {
        this.inFlight.delete(item.execution_id);
        f.done(fromWireResult(item.result));
      }
    }
  }

  private send(command: SessionCommand): void {
    if (this.broken) return;
    this.queue.push(command);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => {
        this.flushing = false;
        const commands = this.queue;
        this.queue = [];
        if (this.broken) return;
        // Messages stay well under gRPC's default 4 MiB receive limit, which a plugin may keep.
        for (const batch of inMessages(commands, sizeOf)) this.call.write({ commands: batch });
      });
    }
  }

  private breakWith(why: Promise<string>): void {
    if (this.broken) return;
    this.broken = true;
    this.queue = [];
    const lost = [...this.inFlight.values()];
    this.inFlight.clear();
    void why.then((message) => {
      for (const f of lost) f.done(failure(message, -1, ExecErrorCode.PluginCrashed));
    });
  }
}

/** About how many bytes a command takes on the wire (its strings, plus some). */
function sizeOf(c: SessionCommand): number {
  const r = c.execute?.request;
  if (!r) return 64;
  let n = 64 + (r.job_name?.length ?? 0) + (r.execution_id?.length ?? 0);
  for (const [k, v] of Object.entries(r.config ?? {})) n += k.length + v.length + 8;
  for (const [k, v] of Object.entries(r.params ?? {})) n += k.length + v.length + 8;
  return n;
}
