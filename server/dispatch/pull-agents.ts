// Pull agents (README, "Pull agents"): agents that may only dial out over
// HTTP(S) and fetch their work from the REST API. This is a second
// transport for the same agent session as the gRPC stream: each pull
// session is an AgentLink registered with the leader's one AgentExecutorHost,
// so claiming, output, results and acknowledgements, lost executions at the
// deadline and retries elsewhere are the gRPC agents' bookkeeping, not a copy.
//
// What the host sends on the link waits here until the agent polls:
// assignments (handed out up to the free slots the poll declares), stops and
// acknowledgements. A poll is the heartbeat; a session silent past the
// deadline is cut off by the host's sweep like a silent stream. A poll
// answers at once when there is something, otherwise after a wait.
//
// An assignment handed out in a poll answer that never reached the agent
// (the connection broke) is handed out again: each poll lists the executions
// the agent holds, and what was handed out before the previous poll, is still
// waited for and is not held, goes back to the queue. Handing out an
// execution the agent holds again is harmless: the agent treats it as a
// reattach, never as a second run.

import { randomUUID } from 'node:crypto';
import type { Assign } from '../../proto/generated/clocktower/agent/v1/Assign.js';
import type { Register__Output } from '../../proto/generated/clocktower/agent/v1/Register.js';
import type { Result__Output } from '../../proto/generated/clocktower/agent/v1/Result.js';
import type { ServerMessage } from '../../proto/generated/clocktower/agent/v1/ServerMessage.js';
import type { AgentLink, AgentSession } from './agent-registry.js';
import type { SessionHost } from './agent-sessions.js';

/** A registration and a result, as the gRPC agents' messages carry them (the API parses the JSON into these). */
export type PullRegistration = Register__Output;
export type PullResult = Result__Output;

export class PullError extends Error {
  override readonly name = 'PullError';
  constructor(readonly code: 'CT_PULL_UNKNOWN_SESSION' | 'CT_PULL_REFUSED' | 'CT_CLUSTER_NOT_LEADER', message: string) {
    super(message);
  }
}

/** An assignment as the pull protocol carries it (JSON). */
export interface PullAssignment {
  readonly execution_id: string;
  readonly job_name: string;
  readonly executor: string;
  readonly config: Readonly<Record<string, string>>;
  readonly scheduled_at_ms: number;
  readonly attempt: number;
  readonly resume_only: boolean;
  readonly have_output_bytes: number;
  /** A workflow run's parameters (empty outside runs). */
  readonly params: Readonly<Record<string, string>>;
}

export interface PullRegistered {
  readonly session: string;
  readonly server: string;
  /** Poll at least this often (each poll is a heartbeat). */
  readonly heartbeat_ms: number;
  /** Longest wait a poll may ask for. */
  readonly max_wait_ms: number;
  readonly output_limit: number;
}

export interface PollRequest {
  readonly running: number;
  readonly queued: number;
  /** Assignments the agent takes now (0: none, only stops and acknowledgements). */
  readonly free: number;
  /** Executions the agent runs, queues or holds an unacknowledged result of; absent: no redelivery check. */
  readonly held?: readonly string[];
  readonly waitMs: number;
}

export interface PollAnswer {
  readonly assignments: PullAssignment[];
  readonly stops: string[];
  readonly acks: string[];
}

interface Waiter {
  readonly free: number;
  resolve(answer: PollAnswer): void;
  timer: NodeJS.Timeout;
}

class PullSession {
  readonly id = randomUUID();
  session: AgentSession | null = null;
  registered: ServerMessage['registered'] = null;
  closed: string | null = null;
  /** Assignments not handed out yet, in order. */
  readonly queue = new Map<string, PullAssignment>();
  /** Handed out and not yet acknowledged. */
  readonly handed = new Set<string>();
  readonly stops = new Set<string>();
  readonly acks = new Set<string>();
  waiter: Waiter | null = null;
  /** Results requests waiting for their acknowledgements: each takes its own as they come. */
  readonly claims = new Set<{ claim(id: string): boolean; end(): void }>();

  readonly link: AgentLink & { readonly transport: 'pull' } = {
    transport: 'pull',
    send: (m) => this.receive(m),
    close: (reason) => {
      this.closed = reason;
      this.wake(true);
      for (const c of [...this.claims]) c.end();
    },
  };

  private receive(m: ServerMessage): void {
    if (m.registered) this.registered = m.registered;
    else if (m.assign) {
      const a = assignmentJson(m.assign);
      this.handed.delete(a.execution_id);
      this.queue.set(a.execution_id, a);
    } else if (m.stop?.execution_id) this.stops.add(m.stop.execution_id);
    else if (m.ack?.execution_id) {
      const id = m.ack.execution_id;
      this.handed.delete(id);
      for (const c of this.claims) if (c.claim(id)) return;
      this.acks.add(id);
    } else return;
    this.wake(false);
  }

  /** What a poll with `free` slots takes now (removed from the queues); null when nothing. */
  take(free: number): PollAnswer | null {
    const assignments: PullAssignment[] = [];
    for (const [id, a] of this.queue) {
      if (assignments.length >= free) break;
      this.queue.delete(id);
      this.handed.add(id);
      assignments.push(a);
    }
    // A stop for an assignment still queued waits until the assignment is handed out with it.
    const stops = [...this.stops].filter((id) => !this.queue.has(id));
    for (const id of stops) this.stops.delete(id);
    const acks = [...this.acks];
    this.acks.clear();
    if (assignments.length === 0 && stops.length === 0 && acks.length === 0) return null;
    return { assignments, stops, acks };
  }

  /** Answer the waiting poll: with what it may take now (nothing: keep waiting), or, `ended`, empty at once. */
  wake(ended: boolean): void {
    const w = this.waiter;
    if (!w) return;
    const answer = ended ? { assignments: [], stops: [], acks: [] } : this.take(w.free);
    if (!answer) return;
    this.waiter = null;
    clearTimeout(w.timer);
    w.resolve(answer);
  }
}

/** The leader's agent host as pull sessions use it: a transport's calls, and an assignment to hand out again. */
export interface PullHost extends SessionHost {
  /** The assignment of an execution still waited for on this agent; null when settled or elsewhere. */
  assignmentFor(s: AgentSession, id: string): Assign | null;
}

export interface PullAgentsOptions {
  /** The leader's host; null while this server does not lead. */
  host(): PullHost | null;
  /** Longest a poll waits for work. */
  readonly maxWaitMs?: number;
  /** Longest POST /v1/pull/results waits for its acknowledgements. */
  readonly ackWaitMs?: number;
}

export class PullAgents {
  private readonly sessions = new Map<string, PullSession>();

  constructor(private readonly options: PullAgentsOptions) {}

  register(reg: Register__Output): PullRegistered {
    const host = this.leaderHost();
    this.prune();
    const ps = new PullSession();
    const r = host.register(reg, ps.link);
    if ('error' in r) throw new PullError('CT_PULL_REFUSED', r.error);
    ps.session = r.session;
    this.sessions.set(ps.id, ps);
    const registered = ps.registered;
    const heartbeat = Math.max(20, registered?.heartbeat_ms ?? 1000);
    return {
      session: ps.id, server: registered?.server ?? '', heartbeat_ms: heartbeat,
      max_wait_ms: Math.min(this.options.maxWaitMs ?? 20_000, heartbeat), output_limit: registered?.output_limit ?? 0,
    };
  }

  /** The heartbeat, and what waits for the agent (at most `free` assignments); waits up to `waitMs` when nothing does. */
  poll(id: string, req: PollRequest): Promise<PollAnswer> {
    const { ps, session, host } = this.live(id);
    host.receive(session, { msg: 'heartbeat', heartbeat: { running: req.running, queued: req.queued } });
    if (req.held) {
      const held = new Set(req.held);
      // One poll at a time per session: what earlier answers handed out, the agent holds by now.
      for (const eid of [...ps.handed]) {
        if (held.has(eid)) continue;
        ps.handed.delete(eid);
        const a = host.assignmentFor(session, eid);
        if (a) ps.queue.set(eid, assignmentJson(a));
      }
    }
    if (ps.waiter) ps.wake(true); // an earlier poll of this session is given up for this one
    const now = ps.take(Math.max(0, req.free));
    const wait = Math.max(0, Math.min(req.waitMs, this.options.maxWaitMs ?? 20_000));
    if (now || wait === 0) return Promise.resolve(now ?? { assignments: [], stops: [], acks: [] });
    return new Promise<PollAnswer>((resolve) => {
      const w: Waiter = {
        free: Math.max(0, req.free), resolve,
        timer: setTimeout(() => {
          if (ps.waiter === w) ps.waiter = null;
          resolve({ assignments: [], stops: [], acks: [] });
        }, wait),
      };
      ps.waiter = w;
    });
  }

  output(id: string, chunks: readonly { readonly executionId: string; readonly data: Buffer }[]): void {
    const { session, host } = this.live(id);
    for (const c of chunks) host.receive(session, { msg: 'output', output: { execution_id: c.executionId, data: c.data } });
  }

  /** Results (each applied once, whatever the repeats); answers the ids acknowledged (committed) within the ack wait. */
  async results(id: string, results: readonly PullResult[]): Promise<string[]> {
    const { ps, session, host } = this.live(id);
    // The acknowledgements of these results are this answer's (a poll waiting meanwhile does not take them).
    const want = new Set(results.map((r) => r.execution_id));
    const got: string[] = [];
    let end: () => void = () => {};
    const ended = new Promise<void>((resolve) => { end = resolve; });
    const claim = {
      claim: (eid: string) => {
        if (!want.delete(eid)) return false;
        got.push(eid);
        if (want.size === 0) end();
        return true;
      },
      end: () => end(),
    };
    ps.claims.add(claim);
    let timer: NodeJS.Timeout | null = null;
    try {
      for (const w of [...want]) if (ps.acks.delete(w)) claim.claim(w);
      for (const r of results) host.receive(session, { msg: 'result', result: r });
      if (want.size > 0 && ps.closed === null) {
        timer = setTimeout(end, this.options.ackWaitMs ?? 5000);
        await ended;
      }
    } finally {
      if (timer) clearTimeout(timer);
      ps.claims.delete(claim);
    }
    return got;
  }

  /** The agent leaves: it is assigned nothing more; with `end`, the session ends too (what it still ran is lost). */
  leave(id: string, end: boolean): void {
    const { ps, session, host } = this.live(id);
    host.receive(session, { msg: 'leave', leave: {} });
    if (end) {
      ps.link.close('the agent ended its session');
      host.disconnect(session);
    }
  }

  private leaderHost(): PullHost {
    const host = this.options.host();
    if (!host) throw new PullError('CT_CLUSTER_NOT_LEADER', 'this server is not the leader: poll the leader (a follower forwards pull requests to it)');
    return host;
  }

  private live(id: string): { ps: PullSession; session: AgentSession; host: PullHost } {
    const host = this.leaderHost();
    const ps = this.sessions.get(id);
    const session = ps?.session;
    if (!ps || !session || ps.closed !== null || !session.connected) {
      if (ps) this.sessions.delete(id);
      const why = ps?.closed ? ` (${ps.closed})` : '';
      throw new PullError('CT_PULL_UNKNOWN_SESSION', `no pull session ${id} on this leader${why}: register again`);
    }
    return { ps, session, host };
  }

  /** Forget sessions that ended (cut off, replaced, released). */
  private prune(): void {
    for (const [id, ps] of this.sessions) if (ps.closed !== null || ps.session?.connected === false) this.sessions.delete(id);
  }
}

function assignmentJson(a: Assign): PullAssignment {
  return {
    execution_id: a.execution_id ?? '', job_name: a.job_name ?? '', executor: a.executor ?? '', config: { ...a.config },
    scheduled_at_ms: Number(a.scheduled_at_ms ?? 0), attempt: a.attempt ?? 0, resume_only: a.resume_only ?? false,
    have_output_bytes: Number(a.have_output_bytes ?? 0), params: { ...a.params },
  };
}
