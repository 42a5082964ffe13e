// The executions the leader runs on agents, from the assignment to the
// acknowledged result: what is pending and for which node, its lost deadline
// (on the injected timers), output forwarded to the ExecutionRunner's sink,
// the result turned into the run's outcome, and the acknowledgement sent to
// the agent once the result has applied.
//
// An execution waits for its agent: while the agent is connected it is
// assigned; while it is not (cut off, reconnecting, restarting), it waits up
// to the heartbeat deadline and is then reported lost, which the state
// machine retries per the job's policy. When an agent (re)connects, every
// execution waiting for it is (re)assigned; the agent re-attaches to what it
// runs, re-sends results it finished while cut off, and answers "unknown"
// for what it never heard of or forgot in a restart (resume_only). A result
// is acknowledged to the agent once its FinishExecutions has applied, so a
// result is never dropped between agent and log; applying it twice changes
// nothing.
//
// It talks to agents only through AgentWire and hears from them through
// SessionEvents (both are the agent sessions, agent-sessions.ts).

import type { Assign } from '../../proto/generated/clocktower/agent/v1/Assign.js';
import type { Result__Output } from '../../proto/generated/clocktower/agent/v1/Result.js';
import type { Output__Output } from '../../proto/generated/clocktower/agent/v1/Output.js';
import { isFinished } from '../state/execution.js';
import type { StateMachine } from '../state/state-machine.js';
import type { AgentSession } from './agent-registry.js';
import type { AgentWire, DisconnectReason, SessionEvents } from './agent-sessions.js';
import type { OutputSink, RunOutcome, RunRequest } from './executor-host.js';
import { realHostTimers, type Cancel, type HostTimers } from './host-timers.js';

export interface RemoteExecutionsOptions {
  /** Where results apply: settled executions are looked up, finished ones acknowledged. */
  readonly state: Pick<StateMachine, 'execution' | 'subscribe'>;
  readonly agents: AgentWire;
  readonly heartbeatTimeoutMs: number;
  /** The lost deadlines run on these (default Node's). */
  readonly timers?: HostTimers;
}

interface Pending {
  readonly id: string;
  readonly node: string;
  readonly executor: string;
  readonly request: RunRequest;
  readonly output: OutputSink;
  /** Output bytes received so far. */
  received: number;
  /** Only reattach (started by an earlier leader, or sent to an agent instance that has since restarted). */
  resumeOnly: boolean;
  /** The agent instance it was last sent to. */
  sentTo: string | null;
  stopRequested: boolean;
  cancelLost: Cancel | null;
  resolve(outcome: RunOutcome): void;
}

export class RemoteExecutions implements SessionEvents {
  private readonly pending = new Map<string, Pending>();
  /** Pending executions per node (what the leader has assigned and not seen finish). */
  private readonly load = new Map<string, number>();
  /** Executions orphaned by an earlier leader, to be reattached rather than started. */
  private readonly resumable = new Set<string>();
  /** Results received, to acknowledge once applied: execution id -> node. */
  private readonly awaitingAck = new Map<string, string>();
  private readonly timers: HostTimers;
  private readonly unsubscribe: () => void;

  constructor(private readonly options: RemoteExecutionsOptions) {
    this.timers = options.timers ?? realHostTimers;
    this.unsubscribe = options.state.subscribe((ev) => {
      if (ev.kind === 'execution' && isFinished(ev.execution)) this.acknowledge(ev.execution.id);
    });
  }

  /** Run an execution on `node`: settles with its outcome (lost if the node does not come back in time). */
  execute(node: string, executor: string, request: RunRequest, output: OutputSink, signal: AbortSignal): Promise<RunOutcome> {
    return new Promise<RunOutcome>((resolve) => {
      const p: Pending = {
        id: request.executionId, node, executor, request, output, received: 0,
        resumeOnly: this.resumable.delete(request.executionId), sentTo: null, stopRequested: false, cancelLost: null, resolve,
      };
      this.pending.set(p.id, p);
      this.load.set(node, (this.load.get(node) ?? 0) + 1);
      const onAbort = () => this.stop(p);
      if (signal.aborted) p.stopRequested = true;
      else signal.addEventListener('abort', onAbort, { once: true });
      const s = this.options.agents.session(node);
      // Reclaiming from an earlier leader: its agents first have to find this one, so they get twice the deadline.
      const waitMs = p.resumeOnly ? 2 * this.options.heartbeatTimeoutMs : this.options.heartbeatTimeoutMs;
      if (s) this.assign(p, s);
      else this.armLost(p, `lost: agent ${node} is not connected and did not connect within ${waitMs} ms`, waitMs);
    });
  }

  /** On taking over leadership: the next execute() of this id only reattaches to what its agent runs. */
  resume(id: string): void {
    this.resumable.add(id);
  }

  /** Pending executions on the node. */
  loadOf(node: string): number {
    return this.load.get(node) ?? 0;
  }

  /**
   * The assignment of an execution still waited for on this agent, to hand
   * out again (a pull agent's poll answer that never reached it); null when
   * it is settled or belongs elsewhere.
   */
  assignmentFor(s: AgentSession, id: string): Assign | null {
    const p = this.pending.get(id);
    if (!p || p.node !== s.node || !s.connected) return null;
    p.sentTo = s.instance;
    return assignment(p);
  }

  /** Leadership moved away: every pending execution settles as abandoned (the next leader reclaims it). */
  release(): void {
    for (const p of [...this.pending.values()]) {
      this.finish(p, { ...lost('this server stopped leading while the execution ran; the next leader reclaims it'), abandoned: true });
    }
    this.resumable.clear();
    this.awaitingAck.clear();
  }

  close(): void {
    this.unsubscribe();
    this.release();
  }

  // ---- SessionEvents -----------------------------------------------------------

  connected(s: AgentSession, running: readonly string[]): void {
    for (const p of this.pending.values()) {
      if (p.node !== s.node) continue;
      this.clearLost(p);
      if (p.sentTo !== null && p.sentTo !== s.instance) p.resumeOnly = true;
      this.assign(p, s);
    }
    // What it still runs but was settled meanwhile (lost while it was cut off, and maybe retried elsewhere): stop it.
    for (const id of running) {
      const p = this.pending.get(id);
      if (p?.node === s.node) continue;
      const e = this.options.state.execution(id);
      if (!e || isFinished(e) || e.nodeName !== s.node) this.options.agents.stop(s, id);
    }
  }

  disconnected(s: AgentSession, why: DisconnectReason): void {
    const ms = this.options.heartbeatTimeoutMs;
    for (const p of this.pending.values()) {
      if (p.node !== s.node) continue;
      if (why === 'left') this.finish(p, lost(`lost: agent ${s.node} left while this execution ran`));
      else if (why === 'silent') this.finish(p, lost(`lost: agent ${s.node} sent no heartbeat for ${ms} ms while this execution ran; its outcome is unknown`));
      else this.armLost(p, `lost: agent ${s.node} went away while this execution ran and did not come back within ${ms} ms; its outcome is unknown`);
    }
  }

  output(s: AgentSession, o: Output__Output): void {
    const p = this.pending.get(o.execution_id);
    if (!p || p.node !== s.node) return;
    p.output.write(o.data);
    p.received += o.data.length;
  }

  result(s: AgentSession, r: Result__Output): void {
    const id = r.execution_id;
    const p = this.pending.get(id);
    if (!p || p.node !== s.node) {
      // Not waited for here: if it is settled (or unknown), the agent may forget it.
      const e = this.options.state.execution(id);
      if (!e || isFinished(e)) this.options.agents.ack(s, id);
      return;
    }
    const gap = this.tail(p, r);
    this.awaitingAck.set(id, s.node);
    if (r.unknown) {
      this.finish(p, lost(`lost: agent ${s.node} does not know this execution (it restarted while the execution ran); its outcome is unknown`));
      return;
    }
    this.finish(p, outcome(r, gap));
  }

  // ---- internals -------------------------------------------------------------------

  /**
   * The part of the result's output tail that did not arrive live; true when
   * output between what arrived live and the tail's start is gone (the agent
   * kept only the tail).
   */
  private tail(p: Pending, r: Result__Output): boolean {
    const total = Number(r.output_total_bytes);
    const tail = r.output_tail;
    if (total <= p.received || tail.length === 0) return false;
    const start = total - tail.length;
    const gap = start > p.received;
    const from = Math.max(p.received, start);
    if (from < total) p.output.write(tail.subarray(from - start));
    p.received = total;
    return gap;
  }

  /** The result applied (its execution is finished in the state): the agent may forget it. */
  private acknowledge(id: string): void {
    const node = this.awaitingAck.get(id);
    if (node === undefined) return;
    this.awaitingAck.delete(id);
    const s = this.options.agents.session(node);
    if (s) this.options.agents.ack(s, id);
  }

  private assign(p: Pending, s: AgentSession): void {
    p.sentTo = s.instance;
    this.options.agents.assign(s, assignment(p));
    // From here on this agent knows it: a later reconnect of the same instance reattaches.
    if (p.stopRequested) this.options.agents.stop(s, p.id);
  }

  private stop(p: Pending): void {
    p.stopRequested = true;
    const s = this.options.agents.session(p.node);
    if (s && p.sentTo === s.instance) this.options.agents.stop(s, p.id);
  }

  private armLost(p: Pending, error: string, ms = this.options.heartbeatTimeoutMs): void {
    this.clearLost(p);
    p.cancelLost = this.timers.after(ms, () => this.finish(p, lost(error)));
  }

  private clearLost(p: Pending): void {
    p.cancelLost?.();
    p.cancelLost = null;
  }

  private finish(p: Pending, outcome: RunOutcome): void {
    if (this.pending.get(p.id) !== p) return;
    this.clearLost(p);
    this.pending.delete(p.id);
    const left = (this.load.get(p.node) ?? 1) - 1;
    if (left > 0) this.load.set(p.node, left);
    else this.load.delete(p.node);
    p.resolve(outcome);
  }
}

function assignment(p: Pending): Assign {
  const r = p.request;
  return {
    execution_id: p.id, job_name: r.jobName, executor: p.executor, config: { ...r.config }, scheduled_at_ms: r.scheduledAtMs,
    attempt: r.attempt, resume_only: p.resumeOnly, have_output_bytes: p.received, params: { ...(r.params ?? {}) },
  };
}

/** A result the agent reported, as the run's outcome. */
function outcome(r: Result__Output, outputGap: boolean): RunOutcome {
  const paramsOut = r.params_out ?? {};
  return {
    success: r.success, exitCode: r.exit_code, error: r.error, ...(Object.keys(paramsOut).length > 0 ? { paramsOut } : {}), ...(outputGap ? { outputGap: true } : {}),
    // An older agent sends no code: the runner derives one.
    ...(r.error_code ? { errorCode: r.error_code } : {}),
  };
}

function lost(error: string): RunOutcome {
  return { success: false, exitCode: -1, error, lost: true };
}
