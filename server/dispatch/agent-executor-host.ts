// The leader's side of running executions on agents: an ExecutorHost (so
// ExecutionRunner runs, collects output and commits results as it does for
// in-process executors) that sends each execution to the agent named in its
// record, and the NodeChooser the dispatcher asks at fire time.
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
// Batches (README, "Agent protocol"): to an agent that accepts them, what
// is ready in one event-loop turn goes out together (AgentOutbox), and the
// agent's AgentBatch of outputs and results is taken as its items one by
// one; its results reach the ExecutionRunner together, so they are
// committed in as few FinishExecutions as their size allows, and each is
// still acknowledged on its own once applied.

import type { Assign } from '../../proto/generated/clocktower/agent/v1/Assign.js';
import type { AgentMessage__Output } from '../../proto/generated/clocktower/agent/v1/AgentMessage.js';
import type { Register__Output } from '../../proto/generated/clocktower/agent/v1/Register.js';
import type { Result__Output } from '../../proto/generated/clocktower/agent/v1/Result.js';
import type { Output__Output } from '../../proto/generated/clocktower/agent/v1/Output.js';
import { isFinished, type Execution } from '../state/execution.js';
import type { Job } from '../state/job.js';
import type { StateMachine } from '../state/state-machine.js';
import type { AgentLink, AgentSession, Registration } from './agent-registry.js';
import { AgentRegistry } from './agent-registry.js';
import { AgentOutbox, type OutboxOptions, type StreamCounters } from './agent-outbox.js';
import type { ExecutorHost, OutputSink, RunOutcome, RunRequest } from './executor-host.js';
import { describeTags, selectOne, selectTargets, type AgentInfo } from './target-selection.js';
import { setLongTimeout, type LongTimeout } from '../../common/long-timeout.js';
import { ExecErrorCode } from '../../common/error-codes.js';

/** How the dispatcher picks the nodes that run a fire (committed with the fire). */
export interface NodeChooser {
  /** Nodes for a new fire of the job; [""] when none qualifies (the run then fails saying why). */
  forFire(job: Job): string[];
  /** One node for a pending execution (a retry, a child run); "" when none qualifies. */
  forStart(job: Job, execution: Execution): string;
  /** On taking over leadership: claim a running execution back from its agent instead of calling it lost. */
  resume(execution: Execution): boolean;
}

export interface AgentHostOptions {
  readonly state: StateMachine;
  readonly now: () => number;
  /** This server's node name: its own agent is preferred for untagged jobs. */
  readonly selfNode: string;
  readonly heartbeatTimeoutMs: number;
  readonly outputLimit: number;
  /** Every server's RPC address, told to agents so they can reconnect through any of them. */
  readonly servers: () => string[];
  /** Executors this server has itself (its own agent's), listed even while no agent is connected. */
  readonly localExecutors?: () => string[];
  /** Save-time check of an executor config (the built-in executors' rules). */
  readonly validate?: (executor: string, config: Readonly<Record<string, string>>) => string | null | Promise<string | null>;
  readonly random?: () => number;
  /** An agent registered saying what its executors declare secret (record it for every server). */
  readonly onSecretKeys?: (declared: readonly { readonly executor: string; readonly keys: readonly string[] }[]) => void;
  /** Operator log; agent joins and leaves carry fields (event, agent). */
  readonly log?: (line: string, fields?: Readonly<Record<string, unknown>>) => void;
  /** Batch what goes to agents that accept it, and tell agents this server accepts batches (default true; false speaks as an older server). */
  readonly batches?: boolean;
  /** Bounds of a batch, and how a flush is deferred (tests). */
  readonly outbox?: OutboxOptions;
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
  lostTimer: LongTimeout | null;
  resolve(outcome: RunOutcome): void;
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

export class AgentExecutorHost implements ExecutorHost, NodeChooser {
  readonly registry: AgentRegistry;
  private readonly pending = new Map<string, Pending>();
  /** Pending executions per node (what the leader has assigned and not seen finish). */
  private readonly load = new Map<string, number>();
  /** Executions orphaned by an earlier leader, to be reattached rather than started. */
  private readonly resumable = new Set<string>();
  /** Results received, to acknowledge once applied: execution id -> node. */
  private readonly awaitingAck = new Map<string, string>();
  /** What goes to each connected agent. */
  private readonly outboxes = new Map<AgentSession, AgentOutbox>();
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private readonly random: () => number;
  private readonly log: (line: string, fields?: Readonly<Record<string, unknown>>) => void;
  /**
   * The agents as forFire() sees them during one planning pass (one
   * event-loop turn): listed once, not once per fire, and each fire chosen
   * in the pass counts as load. A second's fires are all chosen before any
   * is committed and assigned, so without this every fire of a burst would
   * see the same loads: a burst of untagged jobs would all go to the
   * leader's own agent, far past its capacity, while other agents idled.
   */
  private planning: AgentInfo[] | null = null;

  constructor(private readonly options: AgentHostOptions) {
    this.registry = new AgentRegistry({ now: options.now, heartbeatTimeoutMs: options.heartbeatTimeoutMs });
    this.random = options.random ?? Math.random;
    this.log = options.log ?? (() => {});
    this.sweepTimer = setInterval(() => {
      for (const s of this.registry.sweep()) this.disconnect(s, true);
    }, Math.max(50, Math.floor(options.heartbeatTimeoutMs / 4)));
    this.sweepTimer.unref();
    this.unsubscribe = options.state.subscribe((ev) => {
      if (ev.kind === 'execution' && isFinished(ev.execution)) this.acknowledge(ev.execution.id);
    });
  }

  // ---- the agents' side ------------------------------------------------------

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
    for (const p of this.pending.values()) {
      if (p.node !== s.node) continue;
      this.clearLost(p);
      if (p.sentTo !== null && p.sentTo !== s.instance) p.resumeOnly = true;
      this.assign(p, s);
    }
    // What it still runs but was settled meanwhile (lost while it was cut off, and maybe retried elsewhere): stop it.
    for (const id of reg.running) {
      const p = this.pending.get(id);
      if (p?.node === s.node) continue;
      const e = this.options.state.execution(id);
      if (!e || isFinished(e) || e.nodeName !== s.node) out.stop(id);
    }
    return r;
  }

  receive(s: AgentSession, m: AgentMessage__Output): void {
    if (!s.connected) return;
    s.lastSeenMs = this.options.now();
    const out = this.outboxes.get(s);
    if (out) out.counters.messagesIn++;
    switch (m.msg) {
      case 'heartbeat':
        s.running = m.heartbeat?.running ?? 0;
        s.queued = m.heartbeat?.queued ?? 0;
        if (out) out.control({ heartbeat: {} });
        else s.link.send({ heartbeat: {} });
        return;
      case 'output':
        if (out) out.counters.itemsIn++;
        if (m.output) this.output(s, m.output);
        return;
      case 'result':
        if (out) out.counters.itemsIn++;
        if (m.result) this.result(s, m.result);
        return;
      case 'batch': {
        // Outputs first: an execution's output comes before its result.
        const b = m.batch;
        if (!b) return;
        if (out) out.counters.itemsIn += b.outputs.length + b.results.length;
        for (const o of b.outputs) this.output(s, o);
        for (const r of b.results) this.result(s, r);
        return;
      }
      case 'leave':
        s.leaving = true;
        this.log(`agents: ${s.node} is leaving`);
        return;
      default:
        return;
    }
  }

  /**
   * The agent's link ended: what it ran waits for it until the deadline. An
   * agent cut off for silence has been silent for a whole deadline already:
   * what it ran is lost at once.
   */
  disconnect(s: AgentSession, silent = false): void {
    this.outboxes.get(s)?.clear();
    this.outboxes.delete(s);
    if (!this.registry.disconnect(s)) return;
    this.log(`agents: ${s.node} disconnected${s.leaving ? ' (left)' : silent ? ` (silent for ${this.options.heartbeatTimeoutMs} ms)` : ''}`, { event: 'agent_left', agent: s.node, reason: s.leaving ? 'left' : silent ? 'silent' : 'disconnected' });
    for (const p of this.pending.values()) {
      if (p.node !== s.node) continue;
      if (s.leaving) this.finish(p, lost(`lost: agent ${s.node} left while this execution ran`));
      else if (silent) this.finish(p, lost(`lost: agent ${s.node} sent no heartbeat for ${this.options.heartbeatTimeoutMs} ms while this execution ran; its outcome is unknown`));
      else this.armLost(p, `lost: agent ${s.node} went away while this execution ran and did not come back within ${this.options.heartbeatTimeoutMs} ms; its outcome is unknown`);
    }
  }

  /** Agents and what they run, for the API. */
  status(): AgentStatus[] {
    return this.registry.all().map((s) => {
      const out = this.outboxes.get(s);
      return {
        node: s.node, tags: s.tags, executors: s.executors, capacity: s.capacity, running: s.running, queued: s.queued,
        assigned: this.load.get(s.node) ?? 0, leaving: s.leaving, version: s.version, lastSeenMs: s.lastSeenMs,
        transport: s.link.transport ?? 'grpc', batches: out?.batches ?? false,
        stream: { ...(out?.counters ?? { messagesOut: 0, itemsOut: 0, messagesIn: 0, itemsIn: 0 }) },
      };
    }).sort((a, b) => a.node.localeCompare(b.node));
  }

  /** Leadership moved away: end every agent's stream (they find the new leader) and give up what waits. */
  release(leaderRpcAddr: string): void {
    for (const s of this.registry.all()) {
      const out = this.outboxes.get(s);
      // Acknowledgements that wait go first: the agent may forget those results.
      out?.flush();
      s.link.send({ redirect: { leader_rpc_addr: leaderRpcAddr } });
      s.link.close('this server no longer leads');
      this.registry.disconnect(s);
    }
    this.outboxes.clear();
    for (const p of [...this.pending.values()]) {
      this.finish(p, { ...lost('this server stopped leading while the execution ran; the next leader reclaims it'), abandoned: true });
    }
    this.resumable.clear();
    this.awaitingAck.clear();
  }

  close(): void {
    clearInterval(this.sweepTimer);
    this.unsubscribe();
    this.release('');
  }

  // ---- ExecutorHost ------------------------------------------------------------

  execute(executor: string, request: RunRequest, output: OutputSink, signal: AbortSignal): Promise<RunOutcome> {
    const { state } = this.options;
    const node = state.execution(request.executionId)?.nodeName ?? '';
    if (node === '') {
      const job = state.job(request.jobName);
      const why = job ? this.noTargetReason(job) : 'its job is gone';
      return Promise.resolve({ success: false, exitCode: -1, error: `no agent to run this execution: ${why}`, errorCode: ExecErrorCode.NoAgent });
    }
    return new Promise<RunOutcome>((resolve) => {
      const p: Pending = {
        id: request.executionId, node, executor, request, output, received: 0,
        resumeOnly: this.resumable.delete(request.executionId), sentTo: null, stopRequested: false, lostTimer: null, resolve,
      };
      this.pending.set(p.id, p);
      this.load.set(node, (this.load.get(node) ?? 0) + 1);
      const onAbort = () => this.stop(p);
      if (signal.aborted) p.stopRequested = true;
      else signal.addEventListener('abort', onAbort, { once: true });
      const s = this.registry.get(node);
      // Reclaiming from an earlier leader: its agents first have to find this one, so they get twice the deadline.
      const waitMs = p.resumeOnly ? 2 * this.options.heartbeatTimeoutMs : this.options.heartbeatTimeoutMs;
      if (s) this.assign(p, s);
      else this.armLost(p, `lost: agent ${node} is not connected and did not connect within ${waitMs} ms`, waitMs);
    });
  }

  validate(executor: string, config: Readonly<Record<string, string>>): string | null | Promise<string | null> {
    return this.options.validate?.(executor, config) ?? null;
  }

  executors(): string[] {
    const names = new Set<string>(this.options.localExecutors?.() ?? []);
    for (const s of this.registry.all()) for (const e of s.executors) names.add(e);
    return [...names].sort();
  }

  // ---- NodeChooser ---------------------------------------------------------------

  forFire(job: Job): string[] {
    const agents = this.planningAgents();
    const choice = selectTargets(agents, { tags: job.tags, executor: job.executor, prefer: this.options.selfNode, random: this.random });
    if (!('nodes' in choice)) return [''];
    for (const node of choice.nodes) {
      const i = agents.findIndex((a) => a.node === node);
      const a = agents[i];
      if (a) agents[i] = { ...a, load: a.load + 1 };
    }
    return [...choice.nodes];
  }

  forStart(job: Job, e: Execution): string {
    const group = (this.options.state.executionsOf(job.name) ?? []).filter((x) => x.group === e.group && x.id !== e.id);
    const previous = group.filter((x) => x.attempt === e.attempt - 1).at(-1);
    const choice = selectOne(this.agentInfos(), {
      tags: job.tags, executor: job.executor, random: this.random,
      ...(previous && previous.state !== 'lost' ? { prefer: previous.nodeName } : {}),
      avoid: group.map((x) => x.nodeName),
    });
    return 'nodes' in choice ? (choice.nodes[0] ?? '') : '';
  }

  resume(e: Execution): boolean {
    if (e.nodeName === '') return false;
    this.resumable.add(e.id);
    return true;
  }

  // ---- internals -------------------------------------------------------------------

  private planningAgents(): AgentInfo[] {
    if (this.planning === null) {
      this.planning = this.agentInfos();
      setImmediate(() => {
        this.planning = null;
      });
    }
    return this.planning;
  }

  private agentInfos(): AgentInfo[] {
    return this.registry.all().map((s) => ({
      node: s.node, tags: s.tags, executors: s.executors, capacity: s.capacity, load: this.load.get(s.node) ?? 0, leaving: s.leaving,
    }));
  }

  private noTargetReason(job: Job): string {
    const choice = selectTargets(this.agentInfos(), { tags: job.tags, executor: job.executor, prefer: this.options.selfNode, random: this.random });
    return 'error' in choice ? choice.error : `no agent was available for the job's tags ${describeTags(job.tags)} when it fired`;
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
    return this.assignment(p);
  }

  private assignment(p: Pending): Assign {
    const r = p.request;
    return {
      execution_id: p.id, job_name: r.jobName, executor: p.executor, config: { ...r.config }, scheduled_at_ms: r.scheduledAtMs,
      attempt: r.attempt, resume_only: p.resumeOnly, have_output_bytes: p.received, params: { ...(r.params ?? {}) },
    };
  }

  /** What goes to this agent: batched if it accepts batches (an unknown session gets a plain outbox on its link). */
  private outbox(s: AgentSession): AgentOutbox {
    let out = this.outboxes.get(s);
    if (!out) {
      out = new AgentOutbox(s.link, false);
      if (s.connected) this.outboxes.set(s, out);
    }
    return out;
  }

  private assign(p: Pending, s: AgentSession): void {
    p.sentTo = s.instance;
    const out = this.outbox(s);
    out.assign(this.assignment(p));
    // From here on this agent knows it: a later reconnect of the same instance reattaches.
    if (p.stopRequested) out.stop(p.id);
  }

  private stop(p: Pending): void {
    p.stopRequested = true;
    const s = this.registry.get(p.node);
    if (s && p.sentTo === s.instance) this.outbox(s).stop(p.id);
  }

  private output(s: AgentSession, o: Output__Output): void {
    const p = this.pending.get(o.execution_id);
    if (!p || p.node !== s.node) return;
    p.output.write(o.data);
    p.received += o.data.length;
  }

  private result(s: AgentSession, r: Result__Output): void {
    const id = r.execution_id;
    const p = this.pending.get(id);
    if (!p || p.node !== s.node) {
      // Not waited for here: if it is settled (or unknown), the agent may forget it.
      const e = this.options.state.execution(id);
      if (!e || isFinished(e)) this.outbox(s).ack(id);
      return;
    }
    const total = Number(r.output_total_bytes);
    const tail = r.output_tail;
    // Output between what arrived live and the start of the tail is gone (the agent kept only the tail).
    let gap = false;
    if (total > p.received && tail.length > 0) {
      const start = total - tail.length;
      gap = start > p.received;
      const from = Math.max(p.received, start);
      if (from < total) p.output.write(tail.subarray(from - start));
      p.received = total;
    }
    this.awaitingAck.set(id, s.node);
    if (r.unknown) {
      this.finish(p, lost(`lost: agent ${s.node} does not know this execution (it restarted while the execution ran); its outcome is unknown`));
      return;
    }
    const paramsOut = r.params_out ?? {};
    this.finish(p, {
      success: r.success, exitCode: r.exit_code, error: r.error, ...(Object.keys(paramsOut).length > 0 ? { paramsOut } : {}), ...(gap ? { outputGap: true } : {}),
      // An older agent sends no code: the runner derives one.
      ...(r.error_code ? { errorCode: r.error_code } : {}),
    });
  }

  private acknowledge(id: string): void {
    const node = this.awaitingAck.get(id);
    if (node === undefined) return;
    this.awaitingAck.delete(id);
    const s = this.registry.get(node);
    if (s) this.outbox(s).ack(id);
  }

  private armLost(p: Pending, error: string, ms = this.options.heartbeatTimeoutMs): void {
    this.clearLost(p);
    p.lostTimer = setLongTimeout(() => this.finish(p, lost(error)), ms);
  }

  private clearLost(p: Pending): void {
    p.lostTimer?.clear();
    p.lostTimer = null;
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

function lost(error: string): RunOutcome {
  return { success: false, exitCode: -1, error, lost: true };
}
