// The agents connected to this server (the leader): who they are, their
// tags and executors, when each was last heard from. An agent that stays
// silent past the heartbeat deadline is cut off (its link closed), so a
// half-open connection ends like a broken one.

import type { Register__Output } from '../../proto/generated/clocktower/agent/v1/Register.js';
import type { ServerMessage } from '../../proto/generated/clocktower/agent/v1/ServerMessage.js';

/** One agent's stream, whatever carries it (gRPC, or in-process for the server's own agent). */
export interface AgentLink {
  send(message: ServerMessage): void;
  /** End the stream; the registry is told through disconnect(). */
  close(reason: string): void;
  /** What carries it (default grpc), as /v1/agents shows. */
  readonly transport?: 'grpc' | 'local' | 'pull';
}

export interface AgentSession {
  readonly node: string;
  readonly instance: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly executors: readonly string[];
  readonly capacity: number;
  readonly version: string;
  readonly link: AgentLink;
  readonly connectedAtMs: number;
  lastSeenMs: number;
  leaving: boolean;
  connected: boolean;
  /** As the agent last reported. */
  running: number;
  queued: number;
}

export type Registration = { readonly session: AgentSession } | { readonly error: string };

export class AgentRegistry {
  private readonly sessions = new Map<string, AgentSession>();

  constructor(private readonly options: { readonly now: () => number; readonly heartbeatTimeoutMs: number }) {}

  /** A new connection; replaces a stale one of the same node, refuses a second live agent with the same name. */
  register(reg: Register__Output, link: AgentLink): Registration {
    if (reg.node === '') return { error: 'the registration names no node: start the agent with --node-name' };
    const now = this.options.now();
    const old = this.sessions.get(reg.node);
    if (old?.connected) {
      if (old.instance !== reg.instance && now - old.lastSeenMs < this.options.heartbeatTimeoutMs) {
        return { error: `node name ${reg.node} is taken by another connected agent; give each agent its own --node-name` };
      }
      old.connected = false;
      old.link.close('replaced by a newer connection from the same agent');
    }
    const session: AgentSession = {
      node: reg.node, instance: reg.instance, tags: { ...reg.tags }, executors: [...reg.executors], capacity: Math.max(1, reg.capacity),
      version: reg.version, link, connectedAtMs: now, lastSeenMs: now, leaving: false, connected: true, running: reg.running.length, queued: 0,
    };
    this.sessions.set(reg.node, session);
    return { session };
  }

  /** The link ended. True when it was the node's current session (then it is gone). */
  disconnect(session: AgentSession): boolean {
    const current = this.sessions.get(session.node) === session;
    session.connected = false;
    if (current) this.sessions.delete(session.node);
    return current;
  }

  get(node: string): AgentSession | undefined {
    const s = this.sessions.get(node);
    return s?.connected ? s : undefined;
  }

  all(): AgentSession[] {
    return [...this.sessions.values()].filter((s) => s.connected);
  }

  /** Cut off agents silent past the deadline; returns them (their links are closed). */
  sweep(): AgentSession[] {
    const now = this.options.now();
    const silent = this.all().filter((s) => now - s.lastSeenMs > this.options.heartbeatTimeoutMs);
    for (const s of silent) s.link.close(`no heartbeat for ${this.options.heartbeatTimeoutMs} ms`);
    return silent;
  }
}
