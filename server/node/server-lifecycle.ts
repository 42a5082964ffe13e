// The server's life between opening its command log and closing it, in
// named steps: start (follow the log's leadership), lead, follow, drain and
// close. Each step calls the parts in the one order that keeps the fence:
//
// - lead: the agents attach first (the own agent in-process), so that the
//   dispatcher finds them when it starts planning; then the ODM callbacks.
// - follow: everything that sends stops first (ODM callbacks, the
//   dispatcher), then the ODM waits are given up and, last, the agents are
//   sent to the new leader.
// - drain (shutdown in a cluster): the dispatcher fires nothing more, the own
//   agent finishes what it runs within its grace period (its results
//   committed as usual), then commands are refused and the other agents are
//   left to what they run (the next leader reclaims it).
// - close: after draining, the waiting ODM tasks are given up (not stopped,
//   so the next start or leader waits on), the dispatcher shuts down, then
//   the parts behind it close.

import type { ClusterNode, ServerClusterNode } from '../cluster/cluster-node.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { OdmCallbackSender } from '../dispatch/odm/odm-callback-sender.js';
import type { OdmExecutorHost } from '../dispatch/odm/odm-executor-host.js';
import type { CommandGate } from './command-gate.js';
import type { ServerAgents } from './server-agents.js';

/** Something the lifecycle closes once the dispatcher has shut down. */
export interface Closable {
  close(): void | Promise<void>;
}

export interface LifecycleParts {
  readonly dispatcher: Pick<Dispatcher, 'startLeading' | 'stopLeading' | 'shutdown'>;
  readonly odmHost: Pick<OdmExecutorHost, 'stopLeading' | 'close'>;
  readonly odmCallbacks: Pick<OdmCallbackSender, 'startLeading' | 'stopLeading' | 'close'>;
  /** In a cluster: the agents' host and this server's own agent (null in light mode). */
  readonly agents: Pick<ServerAgents, 'start' | 'startLeading' | 'stopLeading' | 'drainOwn' | 'release' | 'close'> | null;
  /** The command log the parts submit to; refused from the drain on. */
  readonly commands: CommandGate;
  /** Closed after the dispatcher, the notifier and the processors, in this order (the own agent closes between them and these). */
  readonly notifier: Closable;
  readonly processors: Closable;
  /** The in-process executors, closed last. */
  readonly executors: Closable;
  /** Told about a step that failed while closing (the other steps still run). */
  readonly onCloseError?: (step: string, err: unknown) => void;
}

export class ServerLifecycle {
  private unsubscribe: (() => void) | null = null;
  private closing: Promise<void> | null = null;

  constructor(private readonly parts: LifecycleParts) {}

  /** Lead while the log says this server leads, follow otherwise; start the own agent. */
  start(node: ServerClusterNode<unknown>): void {
    this.unsubscribe = node.onLeadershipChange((leading) => (leading ? this.lead() : this.follow()));
    this.parts.agents?.start(node);
  }

  /** This server became leader. */
  lead(): void {
    const { agents, dispatcher, odmCallbacks } = this.parts;
    agents?.startLeading();
    dispatcher.startLeading();
    odmCallbacks.startLeading();
  }

  /** This server stopped leading. */
  follow(): void {
    const { agents, dispatcher, odmCallbacks, odmHost } = this.parts;
    odmCallbacks.stopLeading();
    dispatcher.stopLeading();
    odmHost.stopLeading();
    agents?.stopLeading();
  }

  /**
   * First step of shutdown in a cluster: fire nothing more, let the own
   * agent finish, refuse commands, leave the other agents to what they run.
   * Light mode (no agents) has nothing to drain: its dispatcher shuts down in close().
   */
  async drain(): Promise<void> {
    const { agents, dispatcher, commands } = this.parts;
    if (!agents) return;
    dispatcher.stopLeading();
    await agents.drainOwn();
    commands.refuse();
    agents.release();
  }

  /** Drain, then close every part in order; once (a second call waits for the first). */
  close(): Promise<void> {
    return (this.closing ??= this.closeInOrder());
  }

  private async closeInOrder(): Promise<void> {
    const { dispatcher, odmHost, odmCallbacks, agents, notifier, processors, executors } = this.parts;
    // Leadership is still followed while draining: should it move, the own agent dials the new leader to report.
    await this.step('drain', () => this.drain());
    await this.step('odm', () => {
      odmCallbacks.close();
      odmHost.stopLeading();
    });
    await this.step('dispatcher', () => dispatcher.shutdown());
    await this.step('odm callbacks', () => odmCallbacks.close());
    await this.step('odm host', () => odmHost.close());
    await this.step('notifier', () => notifier.close());
    await this.step('processors', () => processors.close());
    if (agents) await this.step('agents', () => agents.close());
    await this.step('executors', () => executors.close());
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  private async step(name: string, run: () => void | Promise<void>): Promise<void> {
    try {
      await run();
    } catch (err) {
      this.parts.onCloseError?.(name, err);
    }
  }
}

/** Resolves once the node leads (light mode's only voter does as soon as it has replayed its log). */
export function untilLeading(node: ClusterNode<unknown>): Promise<void> {
  return new Promise<void>((resolve) => {
    const unsubscribe = node.onLeadershipChange((leading) => {
      if (!leading) return;
      unsubscribe();
      resolve();
    });
  });
}
