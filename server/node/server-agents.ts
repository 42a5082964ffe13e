// The agent side of a server (`clocktower agent --server`): the leader's
// AgentExecutorHost and the Agent gRPC service, plus the server's own agent,
// attached in-process while this server leads and dialing the leader like
// any agent while it follows.
//
// The own agent is built by the composition (it is agent/ code, which no
// server part imports) and handed over as an OwnAgent.

import type { ServerClusterNode } from '../cluster/cluster-node.js';
import { AgentExecutorHost, type AgentHostOptions } from '../dispatch/agent-executor-host.js';
import { agentServiceHandlers } from '../dispatch/agent-service.js';
import { PullAgents } from '../dispatch/pull-agents.js';
import type { AgentHandlers } from '../../proto/generated/clocktower/agent/v1/Agent.js';
import type { StateMachine } from '../state/state-machine.js';

export interface ServerAgentSettings {
  readonly tags: Readonly<Record<string, string>>;
  /** Executions this server's own agent runs at once. */
  readonly capacity: number;
  /** An agent silent (or away) this long is cut off and what it ran is lost. */
  readonly heartbeatTimeoutMs: number;
  /** On shutdown, how long the own agent's running executions may take to finish. */
  readonly shutdownGraceMs: number;
}

export type DeclaredSecretKeys = readonly { readonly executor: string; readonly keys: readonly string[] }[];

/**
 * This server's own agent, as the server drives it: it dials the servers
 * like any agent, or (while this server leads) attaches to this server's
 * host in-process.
 */
export interface OwnAgent {
  /** Dial the servers (the dialing is paused while attached). */
  start(): void;
  /** Attach to this server's host in-process; stop dialing. */
  attach(): void;
  /** Detach from this server's host (if attached). */
  detach(): void;
  /** Dial the leader again (after a detach). */
  dial(): void;
  /** Tell the server it is attached to (or connected to, when not) that it leaves: it is assigned nothing more. */
  leave(attached: boolean): void;
  /** Executions running or queued. */
  load(): { readonly running: number; readonly queued: number };
  /** Let what runs finish within graceMs (and its results be acknowledged within ackMs); stop the rest. */
  drain(graceMs: number, ackMs: number): Promise<void>;
  /** What its executors declare secret. */
  declaredSecretKeys(): DeclaredSecretKeys;
  /** Stop dialing and disconnect. */
  close(): Promise<void>;
}

export interface ServerAgentsOptions {
  readonly nodeName: string;
  readonly state: StateMachine;
  readonly outputLimit: number;
  readonly settings: ServerAgentSettings;
  readonly log: (line: string, fields?: Readonly<Record<string, unknown>>) => void;
  /** Executors this server has itself (its own agent's), listed even while no agent is connected. */
  readonly localExecutors: () => string[];
  /** Save-time check of an executor config. */
  readonly validate: NonNullable<AgentHostOptions['validate']>;
  /** Batch on agent streams (false speaks as a release before batches did). */
  readonly batches: boolean;
  /** Builds the own agent, which attaches to this host while this server leads. */
  readonly ownAgent: (host: AgentExecutorHost) => OwnAgent;
  /** Settles once this server's plugin programs have told their secret keys (or failed to start). */
  readonly described?: Promise<void>;
  /** Record what executors declare secret, for every server to redact (on the leader). */
  readonly declareSecretKeys?: (declared: DeclaredSecretKeys) => void;
}

export class ServerAgents {
  readonly host: AgentExecutorHost;
  /** Pull agents (HTTP polls): sessions of the same host, while this server leads. */
  readonly pull: PullAgents;
  private readonly own: OwnAgent;
  private leading = false;
  private node: ServerClusterNode<unknown> | null = null;

  constructor(private readonly options: ServerAgentsOptions) {
    const { settings, log } = options;
    this.host = new AgentExecutorHost({
      state: options.state,
      now: () => Date.now(),
      selfNode: options.nodeName,
      heartbeatTimeoutMs: settings.heartbeatTimeoutMs,
      outputLimit: options.outputLimit,
      servers: () => (this.node?.members() ?? []).map((m) => m.address).filter((a) => a !== ''),
      localExecutors: options.localExecutors,
      validate: options.validate,
      ...(options.declareSecretKeys ? { onSecretKeys: options.declareSecretKeys } : {}),
      log,
      batches: options.batches,
    });
    this.own = options.ownAgent(this.host);
    this.pull = new PullAgents({ host: () => (this.leading ? this.host : null) });
  }

  /** The Agent service, for the server's gRPC server (before it starts). */
  handlers(): AgentHandlers {
    return agentServiceHandlers({
      host: () => (this.leading ? this.host : null),
      leaderRpcAddr: () => this.leaderRpcAddr(),
      log: this.options.log,
    });
  }

  start(node: ServerClusterNode<unknown>): void {
    this.node = node;
    // Paused while this server leads. It registers once the plugins have told
    // their secret keys, so the leader hears them with the registration.
    void (this.options.described ?? Promise.resolve()).then(() => this.own.start());
  }

  /** Call before the dispatcher starts leading: the own agent attaches directly. */
  startLeading(): void {
    this.leading = true;
    this.own.attach();
    // Attached at once, maybe before the plugins have told their secret keys: record them once they have.
    void (this.options.described ?? Promise.resolve()).then(() => {
      if (this.leading) this.options.declareSecretKeys?.(this.own.declaredSecretKeys());
    });
  }

  /** Call after the dispatcher stopped leading: agents are sent to the new leader; the own agent dials it. */
  stopLeading(): void {
    this.leading = false;
    this.host.release(this.leaderRpcAddr());
    this.own.detach();
    this.own.dial();
  }

  /**
   * First step of shutdown (the dispatcher fires nothing more by now): the own
   * agent leaves and lets what it runs finish within the grace period, its
   * results committed as usual; what is left is stopped and reported.
   */
  async drainOwn(): Promise<void> {
    const { running, queued } = this.own.load();
    if (running + queued === 0) return;
    this.options.log(`agents: waiting up to ${this.options.settings.shutdownGraceMs} ms for ${running + queued} executions of this server's own agent`);
    this.own.leave(this.leading);
    await this.own.drain(this.options.settings.shutdownGraceMs, 5000);
  }

  /** Second step of shutdown: what runs on other agents is left to them (and to the next leader). */
  release(): void {
    this.leading = false;
    this.host.close();
    this.own.detach();
  }

  /** Last step of shutdown: stop the own agent's executions and disconnect. */
  async close(): Promise<void> {
    await this.own.drain(0, 0);
    await this.own.close();
  }

  private leaderRpcAddr(): string {
    const leader = this.node?.leaderName();
    return leader ? this.node?.addressOf(leader)?.rpc ?? '' : '';
  }
}
