// The agent sessions on the leader: who is connected (AgentRegistry), what
// goes to each (one AgentOutbox per session, created when it registers),
// and the session part of the agent protocol: Register answered with
// Registered, heartbeats answered, Leave, the cut-off of an agent silent past
// the deadline, Redirect when this server stops leading.
//
// The sessions know no execution: assignments, stops and acknowledgements
// come in through AgentWire, outputs and results and the sessions' comings
// and goings go out to SessionEvents (the remote executions).
//
// Whatever carries a session is an AgentLink (the transport interface): the
// gRPC stream (agent-service.ts), HTTP polls (pull-agents.ts), and the
// server's own agent in-process (bin/local-agent-link.ts). Each registers
// with register(), hands what the agent sends to receive(), and calls
// disconnect() when it ends.

import type { Assign } from '../../proto/generated/clocktower/agent/v1/Assign.js';
import type { AgentMessage__Output } from '../../proto/generated/clocktower/agent/v1/AgentMessage.js';
import type { Register__Output } from '../../proto/generated/clocktower/agent/v1/Register.js';
import type { Result__Output } from '../../proto/generated/clocktower/agent/v1/Result.js';
import type { Output__Output } from '../../proto/generated/clocktower/agent/v1/Output.js';
import { AgentRegistry, type AgentLink, type AgentSession, type Registration } from './agent-registry.js';
import { AgentOutbox, type OutboxOptions, type StreamCounters } from './agent-outbox.js';
import { describeTags } from './target-selection.js';
import { realHostTimers, type Cancel, type HostTimers } from './host-timers.js';

/** Why a node's session ended. */
export type DisconnectReason =
  /** It said Leave first: it is not coming back. */
  | 'left'
  /** Silent past the heartbeat deadline (cut off): silent for a whole deadline already. */
  | 'silent'
  /** Its link ended: it may reconnect. */
  | 'away';

/** What the sessions tell the remote executions. */
export interface SessionEvents {
  /** A session registered and was answered; `running` is what the agent says it still runs. */
  connected(s: AgentSession, running: readonly string[]): void;
  output(s: AgentSession, o: Output__Output): void;
  result(s: AgentSession, r: Result__Output): void;
  /** The node's current session ended (not told for a session replaced by a newer one, nor on release()). */
  disconnected(s: AgentSession, why: DisconnectReason): void;
}

/** What a transport calls: the leader's agent host (AgentExecutorHost) is it. */
export interface SessionHost {
  /** A new session on this link (the agent's first message was this Register). */
  register(reg: Register__Output, link: AgentLink): Registration;
  /** A message the agent sent on its session. */
  receive(s: AgentSession, m: AgentMessage__Output): void;
  /** The link ended. */
  disconnect(s: AgentSession): void;
}

/** What the remote executions send to agents. */
export interface AgentWire {
  /** The node's connected session. */
  session(node: string): AgentSession | undefined;
  assign(s: AgentSession, a: Assign): void;
  stop(s: AgentSession, id: string): void;
  ack(s: AgentSession, id: string): void;
}

export interface AgentStatus {
  readonly node: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly executors: readonly string[];
  readonly capacity: number;
  readonly running: number;
  readonly queued: number;
  readonly assigned: number;
  readonly leaving: boolean;
  readonly version: string;
  readonly lastSeenMs: number;
  /** How the agent is connected: a gRPC stream, the server's own agent in-process, or pull (HTTP polls). */
  readonly transport: 'grpc' | 'local' | 'pull';
  /** Batches go both ways on this stream. */
  readonly batches: boolean;
  /** Messages on this stream (since it connected) and the items they carried. */
  readonly stream: Readonly<StreamCounters>;
}

export interface AgentSessionsOptions {
  readonly now: () => number;
  /** This server's node name, told to agents. */
  readonly selfNode: string;
  readonly heartbeatTimeoutMs: number;
  readonly outputLimit: number;
  /** Every server's RPC address, told to agents so they can reconnect through any of them. */
  readonly servers: () => string[];
  /** An agent registered saying what its executors declare secret. */
  readonly onSecretKeys?: (declared: readonly { readonly executor: string; readonly keys: readonly string[] }[]) => void;
  readonly log?: (line: string, fields?: Readonly<Record<string, unknown>>) => void;
  /** Batch what goes to agents that accept it, and say this server accepts batches (default true). */
  readonly batches?: boolean;
  readonly outbox?: OutboxOptions;
  /** The sweep of silent agents runs on these (default Node's). */
  readonly timers?: HostTimers;
}

export class AgentSessions implements SessionHost, AgentWire {
  readonly registry: AgentRegistry;
  /** One per registered session, until it disconnects: the only place its stream's counters are kept. */
  private readonly outboxes = new Map<AgentSession, AgentOutbox>();
  private readonly cancelSweep: Cancel;
  private readonly log: (line: string, fields?: Readonly<Record<string, unknown>>) => void;

  constructor(private readonly options: AgentSessionsOptions, private readonly events: SessionEvents) {
    this.registry = new AgentRegistry({ now: options.now, heartbeatTimeoutMs: options.heartbeatTimeoutMs });
    this.log = options.log ?? (() => {});
    this.cancelSweep = (options.timers ?? realHostTimers).every(Math.max(50, Math.floor(options.heartbeatTimeoutMs / 4)), () => {
      for (const s of this.registry.sweep()) this.disconnect(s, true);
    });
  }

  register(reg: Register__Output, link: AgentLink): Registration {
    const r = this.registry.register(reg, link);
    if ('error' in r) return r;
    const s = r.session;
    const batches = this.options.batches ?? true;
    const out = new AgentOutbox(link, batches && reg.accepts_batches === true, this.options.outbox);
    this.outboxes.set(s, out);
    out.control({
      registered: {
        server: this.options.selfNode, heartbeat_ms: Math.max(20, Math.floor(this.options.heartbeatTimeoutMs / 3)),
        servers: this.options.servers(), output_limit: this.options.outputLimit, accepts_batches: batches,
      },
    });
    this.log(`agents: ${s.node} connected (tags ${describeTags(s.tags)}, executors ${s.executors.join(',')}, capacity ${s.capacity})`, { event: 'agent_joined', agent: s.node });
    // An older agent sends none.
    if ((reg.secret_keys ?? []).length > 0) this.options.onSecretKeys?.(reg.secret_keys);
    this.events.connected(s, reg.running);
    return r;
  }

  receive(s: AgentSession, m: AgentMessage__Output): void {
    const out = this.outboxes.get(s);
    if (!s.connected || !out) return;
    s.lastSeenMs = this.options.now();
    const b = m.batch;
    out.received(m.msg === 'output' || m.msg === 'result' ? 1 : b ? b.outputs.length + b.results.length : 0);
    switch (m.msg) {
      case 'heartbeat':
        s.running = m.heartbeat?.running ?? 0;
        s.queued = m.heartbeat?.queued ?? 0;
        out.control({ heartbeat: {} });
        return;
      case 'output':
        if (m.output) this.events.output(s, m.output);
        return;
      case 'result':
        if (m.result) this.events.result(s, m.result);
        return;
      case 'batch':
        if (!b) return;
        // Outputs first: an execution's output comes before its result.
        for (const o of b.outputs) this.events.output(s, o);
        for (const r of b.results) this.events.result(s, r);
        return;
      case 'leave':
        s.leaving = true;
        this.log(`agents: ${s.node} is leaving`);
        return;
      default:
        return;
    }
  }

  /** The agent's link ended (`silent`: cut off for silence). */
  disconnect(s: AgentSession, silent = false): void {
    this.outboxes.get(s)?.clear();
    this.outboxes.delete(s);
    if (!this.registry.disconnect(s)) return;
    const why: DisconnectReason = s.leaving ? 'left' : silent ? 'silent' : 'away';
    this.log(`agents: ${s.node} disconnected${why === 'left' ? ' (left)' : why === 'silent' ? ` (silent for ${this.options.heartbeatTimeoutMs} ms)` : ''}`, { event: 'agent_left', agent: s.node, reason: why === 'away' ? 'disconnected' : why });
    this.events.disconnected(s, why);
  }

  /** Leadership moved away: every agent is redirected and its stream ended (nothing is told to SessionEvents). */
  release(leaderRpcAddr: string): void {
    for (const s of this.registry.all()) {
      // Acknowledgements that wait go first: the agent may forget those results.
      this.outboxes.get(s)?.flush();
      s.link.send({ redirect: { leader_rpc_addr: leaderRpcAddr } });
      s.link.close('this server no longer leads');
      this.registry.disconnect(s);
    }
    this.outboxes.clear();
  }

  close(): void {
    this.cancelSweep();
    this.release('');
  }

  /** Connected agents, and what the leader has assigned each (`assigned`, per node). */
  status(assigned: (node: string) => number): AgentStatus[] {
    return this.registry.all().map((s) => {
      const out = this.outboxes.get(s);
      return {
        node: s.node, tags: s.tags, executors: s.executors, capacity: s.capacity, running: s.running, queued: s.queued,
        assigned: assigned(s.node), leaving: s.leaving, version: s.version, lastSeenMs: s.lastSeenMs,
        transport: s.link.transport ?? 'grpc', batches: out?.batches ?? false, stream: { ...(out?.counters ?? noCounters) },
      };
    }).sort((a, b) => a.node.localeCompare(b.node));
  }

  all(): AgentSession[] {
    return this.registry.all();
  }

  // ---- AgentWire -------------------------------------------------------------

  session(node: string): AgentSession | undefined {
    return this.registry.get(node);
  }

  /** Dropped for a session that has ended (its reconnect brings the assignment back). */
  assign(s: AgentSession, a: Assign): void {
    this.outboxes.get(s)?.assign(a);
  }

  stop(s: AgentSession, id: string): void {
    this.outboxes.get(s)?.stop(id);
  }

  ack(s: AgentSession, id: string): void {
    this.outboxes.get(s)?.ack(id);
  }
}

const noCounters: Readonly<StreamCounters> = { messagesOut: 0, itemsOut: 0, messagesIn: 0, itemsIn: 0 };
