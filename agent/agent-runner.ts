// Runs what the leader assigns, through the executors (the built-in ones
// in-process, via plugins/sdk's ExecutorRegistry), whatever carries the
// messages: a gRPC stream (AgentClient) or, inside a server, a direct link.
//
// - At most `capacity` executions run at once; more wait in a queue.
// - Output streams to the server while attached. While cut off it is kept
//   (the tail); when the server reassigns the execution after a reconnect it
//   says how much it has, and the rest follows.
// - A result is kept until the server acknowledges it (after committing it)
//   and is sent again on every reconnect.
// - A burst is started a slice at a time (startsPerTurn per event-loop
//   turn), so heartbeats and acknowledgements keep flowing while it starts.
// - An Assign for an execution it runs, queued or finished is a reattach,
//   never a second run; a resume_only Assign it knows nothing of (after a
//   restart) is answered "unknown", so the server records it lost.

import { randomUUID } from 'node:crypto';
import type { AgentMessage } from '../proto/generated/clocktower/agent/v1/AgentMessage.js';
import type { Assign__Output } from '../proto/generated/clocktower/agent/v1/Assign.js';
import type { Register } from '../proto/generated/clocktower/agent/v1/Register.js';
import type { Result } from '../proto/generated/clocktower/agent/v1/Result.js';
import type { ServerMessage__Output } from '../proto/generated/clocktower/agent/v1/ServerMessage.js';
import type { ExecutorRegistry } from '../plugins/sdk/executor-registry.js';
import type { ExecuteResult } from '../plugins/sdk/executor.js';
import { OutputBuffer } from './output-buffer.js';
import { setLongTimeout } from '../common/long-timeout.js';
import { ExecErrorCode, errorCodeOf } from '../common/error-codes.js';

export interface AgentRunnerOptions {
  readonly node: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly executors: ExecutorRegistry;
  /** Executions run at once (default 1000); more are queued. */
  readonly capacity?: number;
  readonly version?: string;
  readonly now?: () => number;
  readonly log?: (line: string) => void;
}

/** Sends one message; false when the link's buffer is full (wait for drained() before streaming more output). */
type Send = (message: AgentMessage) => boolean | void;

interface Run {
  readonly assign: Assign__Output;
  readonly abort: AbortController;
  readonly output: OutputBuffer;
  /** Output bytes the server has on the current link; null until it said (after a reconnect). */
  serverHas: number | null;
  started: boolean;
  stopReason: string | null;
}

interface Finished {
  readonly result: Result;
  readonly output: OutputBuffer;
}

const defaultOutputLimit = 256_000;
const recentlyAckedMax = 10_000;
/** Executions started in one event-loop turn; the rest of a burst starts in the next turns. */
const startsPerTurn = 64;

export class AgentRunner {
  readonly instance = randomUUID();
  private send: Send | null = null;
  /** The link's buffer is full: live output waits (in each run's bounded buffer) until drained(). */
  private congested = false;
  private outputLimit = defaultOutputLimit;
  private readonly runs = new Map<string, Run>();
  /** Waiting to start, oldest first from `queueHead` (Array#shift is O(n) on a big array: a burst queues 100,000). */
  private queue: string[] = [];
  private queueHead = 0;
  private active = 0;
  /** Executions started in this event-loop turn (reset, and pump() continued, in the next). */
  private turnStarts = 0;
  private turnQueued = false;
  private readonly unacked = new Map<string, Finished>();
  private readonly acked = new Set<string>();
  private draining = false;
  private waiters: (() => void)[] = [];
  private readonly capacity: number;
  private readonly now: () => number;
  private readonly log: (line: string) => void;

  constructor(private readonly options: AgentRunnerOptions) {
    this.capacity = Math.max(1, options.capacity ?? 1000);
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => {});
  }

  get node(): string {
    return this.options.node;
  }

  /** Running and queued executions. */
  get load(): { running: number; queued: number; unacked: number } {
    return { running: this.active, queued: this.queue.length - this.queueHead, unacked: this.unacked.size };
  }

  registration(): Register {
    return {
      node: this.options.node, tags: { ...this.options.tags }, executors: this.options.executors.names(), capacity: this.capacity,
      instance: this.instance, version: this.options.version ?? '', running: [...this.runs.keys()],
      secret_keys: this.declaredSecretKeys(),
    };
  }

  /** What its executors declare secret, for the leader to record (only those that declare some). */
  declaredSecretKeys(): { executor: string; keys: string[] }[] {
    const out: { executor: string; keys: string[] }[] = [];
    for (const executor of this.options.executors.names()) {
      const keys = this.options.executors.secretKeys(executor);
      if (keys !== null && keys.length > 0) out.push({ executor, keys: [...keys] });
    }
    return out;
  }

  /** A link is up (the server answered Registered): send what it has not acknowledged. */
  attach(send: Send, outputLimit: number): void {
    this.send = send;
    this.congested = false;
    if (outputLimit > 0) this.outputLimit = outputLimit;
    for (const r of this.runs.values()) {
      r.serverHas = null;
      r.output.setLimit(this.outputLimit);
    }
    for (const [id, f] of this.unacked) send({ result: { ...f.result, execution_id: id, output_tail: f.output.from(0), output_total_bytes: f.output.total } });
  }

  /**
   * That link is down. Given the link's send, only if it is still the one
   * attached: a server's own agent attaches in-process when the server starts
   * leading, while its stream to the old leader (paused, not dead) may end
   * only afterwards, and must not take the new link with it.
   */
  detach(send?: Send): void {
    if (send === undefined || this.send === send) this.send = null;
  }

  /**
   * The link's buffer has room again: send the output held back meanwhile.
   * A run whose buffer dropped some of it stops streaming; its result
   * carries the tail (the server keeps what it has and adds the rest).
   */
  drained(): void {
    this.congested = false;
    const send = this.send;
    if (!send) return;
    for (const [id, run] of this.runs) {
      if (run.serverHas === null || run.serverHas >= run.output.total) continue;
      if (run.output.total - run.serverHas > run.output.keptBytes) {
        run.serverHas = null;
        continue;
      }
      const ok = send({ output: { execution_id: id, data: run.output.from(run.serverHas) } });
      run.serverHas = run.output.total;
      if (ok === false) {
        this.congested = true;
        return;
      }
    }
  }

  handle(m: ServerMessage__Output): void {
    switch (m.msg) {
      case 'assign':
        if (m.assign) this.assign(m.assign);
        return;
      case 'stop':
        if (m.stop) this.stop(m.stop.execution_id, 'stopped on request');
        return;
      case 'ack':
        if (m.ack) this.acknowledged(m.ack.execution_id);
        return;
      case 'batch': {
        // Assigns first, then stops (a stop may be for one assigned just before), then acks.
        const b = m.batch;
        if (!b) return;
        for (const a of b.assigns) this.assign(a);
        for (const st of b.stops) this.stop(st.execution_id, 'stopped on request');
        for (const ack of b.acks) this.acknowledged(ack.execution_id);
        return;
      }
      default:
        return;
    }
  }

  /** Stop taking work, let what runs finish for `graceMs`, stop the rest; resolves once all results are acknowledged or `ackMs` passed. */
  async drain(graceMs: number, ackMs: number): Promise<void> {
    this.draining = true;
    for (const id of this.queue.slice(this.queueHead)) this.stop(id, 'stopped: the agent shut down before it started');
    await this.until(() => this.runs.size === 0, graceMs);
    for (const id of [...this.runs.keys()]) this.stop(id, 'stopped: the agent shut down');
    await this.until(() => this.runs.size === 0, 10_000);
    await this.until(() => this.unacked.size === 0, ackMs);
  }

  // ---- internals ---------------------------------------------------------------

  private assign(a: Assign__Output): void {
    const id = a.execution_id;
    const run = this.runs.get(id);
    if (run) {
      // Reattach: send the output the server does not have yet.
      run.serverHas = Number(a.have_output_bytes);
      const missing = run.output.from(run.serverHas);
      if (missing.length > 0) this.send?.({ output: { execution_id: id, data: missing } });
      run.serverHas = run.output.total;
      return;
    }
    const done = this.unacked.get(id);
    if (done) {
      this.send?.({ result: { ...done.result, output_tail: done.output.from(Number(a.have_output_bytes)), output_total_bytes: done.output.total } });
      return;
    }
    if (this.acked.has(id)) return;
    if (a.resume_only || this.draining) {
      const finished: Result = a.resume_only
        ? { execution_id: id, success: false, exit_code: -1, error: 'unknown execution', unknown: true, finished_at_ms: this.now(), error_code: ExecErrorCode.AgentLost }
        : { execution_id: id, success: false, exit_code: -1, error: `agent ${this.options.node} is shutting down and took no new work`, finished_at_ms: this.now(), error_code: ExecErrorCode.AgentDraining };
      this.complete(id, finished, new OutputBuffer(this.outputLimit));
      return;
    }
    if (this.active >= this.capacity && this.queue.length === this.queueHead) this.log(`agent: ${this.active} executions running (the capacity); more wait in a queue, starting with ${id}`);
    this.runs.set(id, { assign: a, abort: new AbortController(), output: new OutputBuffer(this.outputLimit), serverHas: 0, started: false, stopReason: null });
    this.queue.push(id);
    this.pump();
  }

  private pump(): void {
    while (this.active < this.capacity && this.queueHead < this.queue.length && this.turnStarts < startsPerTurn) {
      const id = this.queue[this.queueHead++] as string;
      const run = this.runs.get(id);
      if (!run) continue;
      this.start(id, run);
      this.turnStarts++;
      if (!this.turnQueued) {
        this.turnQueued = true;
        setImmediate(() => {
          this.turnQueued = false;
          this.turnStarts = 0;
          this.pump();
        });
      }
    }
    // Drop the started part now and then (amortized O(1) per start).
    if (this.queueHead === this.queue.length || (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length)) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
  }

  private start(id: string, run: Run): void {
    this.active++;
    run.started = true;
    const a = run.assign;
    const sink = {
      write: (chunk: Uint8Array) => {
        if (chunk.length === 0) return;
        run.output.write(chunk);
        if (this.send && run.serverHas !== null && !this.congested) {
          const ok = this.send({ output: { execution_id: id, data: Buffer.from(chunk) } });
          run.serverHas = run.output.total;
          if (ok === false) this.congested = true;
        }
      },
    };
    this.options.executors.execute(a.executor, {
      jobName: a.job_name, config: a.config, executionId: id, scheduledAtMs: Number(a.scheduled_at_ms), attempt: a.attempt,
      // An older server (or a hand-made Assign) sends no params.
      ...(Object.keys(a.params ?? {}).length > 0 ? { params: a.params } : {}),
    }, sink, run.abort.signal).then(
      (r) => r,
      (err: unknown): ExecuteResult => ({ success: false, exitCode: -1, error: `executor failed: ${err instanceof Error ? err.message : String(err)}` }),
    ).then((r) => {
      this.active--;
      const stopped = run.stopReason !== null;
      this.complete(id, {
        execution_id: id, success: r.success && !stopped, exit_code: r.exitCode, error: stopped ? (run.stopReason ?? '') : r.error,
        finished_at_ms: this.now(), stopped, params_out: { ...(r.paramsOut ?? {}) },
        error_code: stopped ? ExecErrorCode.Stopped : errorCodeOf(r),
      }, run.output, run.serverHas);
      this.pump();
    });
  }

  private stop(id: string, reason: string): void {
    const run = this.runs.get(id);
    if (!run || run.stopReason !== null) return;
    run.stopReason = reason;
    if (run.started) {
      run.abort.abort();
      return;
    }
    const q = this.queue.indexOf(id, this.queueHead);
    if (q >= 0) this.queue.splice(q, 1);
    this.complete(id, { execution_id: id, success: false, exit_code: -1, error: reason, finished_at_ms: this.now(), stopped: true, error_code: ExecErrorCode.Stopped }, run.output, run.serverHas);
  }

  /** Keep the result until acknowledged; send it (with the output the server may lack). */
  private complete(id: string, result: Result, output: OutputBuffer, serverHas: number | null = null): void {
    this.runs.delete(id);
    this.unacked.set(id, { result, output });
    const tail = serverHas === null ? output.from(0) : output.from(serverHas);
    this.send?.({ result: { ...result, output_tail: tail, output_total_bytes: output.total } });
    this.notify();
  }

  private acknowledged(id: string): void {
    if (!this.unacked.delete(id)) return;
    this.acked.add(id);
    if (this.acked.size > recentlyAckedMax) {
      const oldest = this.acked.values().next().value;
      if (oldest !== undefined) this.acked.delete(oldest);
    }
    this.notify();
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async until(condition: () => boolean, ms: number): Promise<void> {
    const deadline = this.now() + ms;
    while (!condition()) {
      const left = deadline - this.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        // Any grace a user sets, even past Node's 24.8-day timer limit.
        const timer = setLongTimeout(resolve, left);
        this.waiters.push(() => { timer.clear(); resolve(); });
      });
    }
  }

  /** For logs: what it holds. */
  describe(): string {
    const { running, queued, unacked } = this.load;
    return `${running} running, ${queued} queued, ${unacked} results not yet acknowledged`;
  }
}
