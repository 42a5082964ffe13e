// The agent side of a server (`clocktower agent --server`): the leader's
// AgentExecutorHost and the Agent gRPC service, plus the server's own agent,
// attached in-process while this server leads and dialing the leader like
// any agent while it follows.

import type { ServerClusterNode } from '../server/cluster/cluster-node.js';
import { AgentExecutorHost } from '../server/dispatch/agent-executor-host.js';
import { agentServiceHandlers } from '../server/dispatch/agent-service.js';
import { PullAgents } from '../server/dispatch/pull-agents.js';
import type { AgentHandlers } from '../proto/generated/clocktower/agent/v1/Agent.js';
import type { StateMachine } from '../server/state/state-machine.js';
import type { ExecutorRegistry } from '../plugins/sdk/executor-registry.js';
import { AgentClient } from '../agent/agent-client.js';
import type { TlsFiles } from '../common/tls.js';
import { AgentRunner } from '../agent/agent-runner.js';
import { LocalAgentLink } from './local-agent-link.js';
import { streamBatches } from './stream-batches.js';

export interface ServerAgentSettings {
  readonly tags: Readonly<Record<string, string>>;
  /** Executions this server's own agent runs at once. */
  readonly capacity: number;
  /** An agent silent (or away) this long is cut off and what it ran is lost. */
  readonly heartbeatTimeoutMs: number;
  /** On shutdown, how long the own agent's running executions may take to finish. */
  readonly shutdownGraceMs: number;
}

export class ServerAgents {
  readonly host: AgentExecutorHost;
  /** Pull agents (HTTP polls): sessions of the same host, while this server leads. */
  readonly pull: PullAgents;
  private readonly runner: AgentRunner;
  private readonly client: AgentClient;
  private readonly link: LocalAgentLink;
  private leading = false;
  private node: ServerClusterNode<unknown> | null = null;

  constructor(private readonly options: {
    readonly nodeName: string;
    readonly rpcAddr: string;
    readonly join: readonly string[];
    readonly state: StateMachine;
    readonly executors: ExecutorRegistry;
    readonly outputLimit: number;
    readonly version: string;
    readonly settings: ServerAgentSettings;
    readonly log: (line: string, fields?: Readonly<Record<string, unknown>>) => void;
    readonly tls?: TlsFiles | null;
    /** Settles once this server's plugin programs have told their secret keys (or failed to start). */
    readonly described?: Promise<void>;
    /** Record what executors declare secret, for every server to redact (on the leader). */
    readonly declareSecretKeys?: (declared: readonly { readonly executor: string; readonly keys: readonly string[] }[]) => void;
  }) {
    const { settings, log } = options;
    this.host = new AgentExecutorHost({
      state: options.state,
      now: () => Date.now(),
      selfNode: options.nodeName,
      heartbeatTimeoutMs: settings.heartbeatTimeoutMs,
      outputLimit: options.outputLimit,
      servers: () => (this.node?.members() ?? []).map((m) => m.address).filter((a) => a !== ''),
      localExecutors: () => options.executors.names(),
      validate: (executor, config) => options.executors.get(executor)?.validate?.(config) ?? null,
      ...(options.declareSecretKeys ? { onSecretKeys: options.declareSecretKeys } : {}),
      log,
      batches: streamBatches(),
    });
    this.runner = new AgentRunner({
      node: options.nodeName, tags: settings.tags, executors: options.executors, capacity: settings.capacity, version: options.version, log,
    });
    this.client = new AgentClient({ servers: [options.rpcAddr, ...options.join], runner: this.runner, log, tls: options.tls ?? null, batches: streamBatches() });
    this.link = new LocalAgentLink(this.runner, this.host, log);
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
    void (this.options.described ?? Promise.resolve()).then(() => this.client.start());
  }

  /** Call before the dispatcher starts leading: the own agent attaches directly. */
  startLeading(): void {
    this.leading = true;
    this.client.pause();
    this.link.connect();
    // Attached at once, maybe before the plugins have told their secret keys: record them once they have.
    void (this.options.described ?? Promise.resolve()).then(() => {
      if (this.leading) this.options.declareSecretKeys?.(this.runner.declaredSecretKeys());
    });
  }

  /** Call after the dispatcher stopped leading: agents are sent to the new leader; the own agent dials it. */
  stopLeading(): void {
    this.leading = false;
    this.host.release(this.leaderRpcAddr());
    this.link.disconnect();
    this.client.resume();
  }

  /**
   * First step of shutdown (the dispatcher fires nothing more by now): the own
   * agent leaves and lets what it runs finish within the grace period, its
   * results committed as usual; what is left is stopped and reported.
   */
  async drainOwn(): Promise<void> {
    const { running, queued } = this.runner.load;
    if (running + queued === 0) return;
    this.options.log(`agents: waiting up to ${this.options.settings.shutdownGraceMs} ms for ${running + queued} executions of this server's own agent`);
    if (this.leading) this.link.leave();
    else this.client.leave();
    await this.runner.drain(this.options.settings.shutdownGraceMs, 5000);
  }

  /** Second step of shutdown: what runs on other agents is left to them (and to the next leader). */
  release(): void {
    this.leading = false;
    this.host.close();
    this.link.disconnect();
  }

  /** Last step of shutdown: stop the own agent's executions and disconnect. */
  async close(): Promise<void> {
    await this.runner.drain(0, 0);
    await this.client.close();
  }

  private leaderRpcAddr(): string {
    const leader = this.node?.leaderName();
    return leader ? this.node?.addressOf(leader)?.rpc ?? '' : '';
  }
}
