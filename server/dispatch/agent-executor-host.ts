// The leader's side of running executions on agents: an ExecutorHost (so
// ExecutionRunner runs, collects output and commits results as it does for
// in-process executors) that sends each execution to the agent named in its
// record, and the NodeChooser the dispatcher asks at fire time.
//
// A thin composition of three parts, each tested on its own:
// - AgentSessions (agent-sessions.ts): the registry and the session part of
//   the protocol (register, heartbeats, leave, cut-off, redirect), one
//   outbox per session, behind AgentLink, the transport interface (gRPC
//   stream, HTTP polls, the server's own agent in-process);
// - RemoteExecutions (remote-executions.ts): what is pending on which agent,
//   the lost deadlines on the injected timers, output, results and their
//   acknowledgements once applied;
// - AgentChooser (agent-chooser.ts): the pure choice of nodes, given the
//   agents' loads, which this host lists once per planning pass.
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
import type { Execution } from '../state/execution.js';
import type { Job } from '../state/job.js';
import type { StateMachine } from '../state/state-machine.js';
import type { AgentLink, AgentSession, Registration } from './agent-registry.js';
import type { OutboxOptions } from './agent-outbox.js';
import { AgentSessions, type AgentStatus, type SessionEvents } from './agent-sessions.js';
import { RemoteExecutions } from './remote-executions.js';
import { AgentChooser, type PlanningPass } from './agent-chooser.js';
import type { ExecutorHost, OutputSink, RunOutcome, RunRequest } from './executor-host.js';
import type { AgentInfo } from './target-selection.js';
import type { HostTimers } from './host-timers.js';
import { ExecErrorCode } from '../../common/error-codes.js';

export type { AgentStatus } from './agent-sessions.js';

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
  /** Lost deadlines and the sweep of silent agents (default Node's timers). */
  readonly timers?: HostTimers;
}

export class AgentExecutorHost implements ExecutorHost, NodeChooser {
  readonly sessions: AgentSessions;
  readonly executions: RemoteExecutions;
  readonly chooser: AgentChooser;
  /** The planning pass of this event-loop turn (see agent-chooser.ts); null between passes. */
  private planning: PlanningPass | null = null;

  constructor(private readonly options: AgentHostOptions) {
    const events: SessionEvents = {
      connected: (s, running) => this.executions.connected(s, running),
      output: (s, o) => this.executions.output(s, o),
      result: (s, r) => this.executions.result(s, r),
      disconnected: (s, why) => this.executions.disconnected(s, why),
    };
    this.sessions = new AgentSessions(options, events);
    this.executions = new RemoteExecutions({
      state: options.state, agents: this.sessions, heartbeatTimeoutMs: options.heartbeatTimeoutMs,
      ...(options.timers ? { timers: options.timers } : {}),
    });
    this.chooser = new AgentChooser({ selfNode: options.selfNode, random: options.random ?? Math.random });
  }

  // ---- the agents' side (the transports call these) ---------------------------------

  register(reg: Register__Output, link: AgentLink): Registration {
    return this.sessions.register(reg, link);
  }

  receive(s: AgentSession, m: AgentMessage__Output): void {
    this.sessions.receive(s, m);
  }

  /**
   * The agent's link ended: what it ran waits for it until the deadline. An
   * agent cut off for silence has been silent for a whole deadline already:
   * what it ran is lost at once.
   */
  disconnect(s: AgentSession, silent = false): void {
    this.sessions.disconnect(s, silent);
  }

  /** Agents and what they run, for the API. */
  status(): AgentStatus[] {
    return this.sessions.status((node) => this.executions.loadOf(node));
  }

  /** Leadership moved away: end every agent's stream (they find the new leader) and give up what waits. */
  release(leaderRpcAddr: string): void {
    this.sessions.release(leaderRpcAddr);
    this.executions.release();
  }

  close(): void {
    this.sessions.close();
    this.executions.close();
  }

  /** The assignment of an execution still waited for on this agent, to hand out again (pull agents). */
  assignmentFor(s: AgentSession, id: string): Assign | null {
    return this.executions.assignmentFor(s, id);
  }

  // ---- ExecutorHost ------------------------------------------------------------

  execute(executor: string, request: RunRequest, output: OutputSink, signal: AbortSignal): Promise<RunOutcome> {
    const { state } = this.options;
    const node = state.execution(request.executionId)?.nodeName ?? '';
    if (node === '') {
      const job = state.job(request.jobName);
      const why = job ? this.chooser.noTargetReason(this.agentLoads(), job) : 'its job is gone';
      return Promise.resolve({ success: false, exitCode: -1, error: `no agent to run this execution: ${why}`, errorCode: ExecErrorCode.NoAgent });
    }
    return this.executions.execute(node, executor, request, output, signal);
  }

  validate(executor: string, config: Readonly<Record<string, string>>): string | null | Promise<string | null> {
    return this.options.validate?.(executor, config) ?? null;
  }

  executors(): string[] {
    const names = new Set<string>(this.options.localExecutors?.() ?? []);
    for (const s of this.sessions.all()) for (const e of s.executors) names.add(e);
    return [...names].sort();
  }

  // ---- NodeChooser ---------------------------------------------------------------

  forFire(job: Job): string[] {
    if (this.planning === null) {
      this.planning = this.chooser.pass(this.agentLoads());
      setImmediate(() => {
        this.planning = null;
      });
    }
    return this.planning.forFire(job);
  }

  forStart(job: Job, e: Execution): string {
    return this.chooser.forStart(this.agentLoads(), job, e, this.options.state.executionsOf(job.name) ?? []);
  }

  resume(e: Execution): boolean {
    if (e.nodeName === '') return false;
    this.executions.resume(e.id);
    return true;
  }

  /** The connected agents and what each has pending now: what the chooser is given. */
  agentLoads(): AgentInfo[] {
    return this.sessions.all().map((s) => ({
      node: s.node, tags: s.tags, executors: s.executors, capacity: s.capacity, load: this.executions.loadOf(s.node), leaving: s.leaving,
    }));
  }
}
