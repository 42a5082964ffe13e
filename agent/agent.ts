// An agent without a server (`clocktower agent --join HOST:PORT`): runs
// what the leader assigns it, reconnecting through any server it knows.
// Stopping it is graceful: it tells the leader it leaves, lets running work
// finish within the grace period (stopping what is left), waits for its
// results to be acknowledged, then disconnects.

import type { ExecutorRegistry } from '../plugins/sdk/executor-registry.js';
import { AgentClient } from './agent-client.js';
import { PullClient, type PullBackoff } from './pull-client.js';
import { AgentRunner } from './agent-runner.js';
import type { TlsFiles } from '../common/tls.js';

export interface AgentSettings {
  readonly node: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly servers: readonly string[];
  readonly executors: ExecutorRegistry;
  readonly capacity: number;
  /** On stop: how long running executions may take to finish before they are stopped. */
  readonly graceMs: number;
  readonly version: string;
  readonly log: (line: string) => void;
  readonly tls?: TlsFiles | null;
  /** Batches on the stream (default true; false speaks as an older agent, for rolling-upgrade tests). */
  readonly batches?: boolean;
}

/** A pull agent (README, "Pull agents"): HTTP polls to the servers' API instead of a gRPC stream. */
export interface PullSettings {
  readonly backoff: PullBackoff;
  readonly pollWaitMs: number;
  readonly token?: string | undefined;
}

export interface RunningAgent {
  readonly runner: AgentRunner;
  readonly client: AgentClient | PullClient;
  /** Graceful stop. */
  close(): Promise<void>;
}

export function startAgent(settings: AgentSettings, pull: PullSettings | null = null): RunningAgent {
  const runner = new AgentRunner({
    node: settings.node, tags: settings.tags, executors: settings.executors, capacity: settings.capacity, version: settings.version, log: settings.log,
  });
  const client = pull
    ? new PullClient({
      servers: settings.servers, runner, maxConcurrent: settings.capacity, backoff: pull.backoff, pollWaitMs: pull.pollWaitMs, token: pull.token,
      tls: settings.tls ?? null, log: settings.log,
    })
    : new AgentClient({ servers: settings.servers, runner, log: settings.log, tls: settings.tls ?? null, batches: settings.batches ?? true });
  client.start();
  settings.log(`clocktower agent${pull ? ' (pull)' : ''}: node ${settings.node}, servers ${settings.servers.join(', ')}, ${pull ? 'max concurrent' : 'capacity'} ${settings.capacity}`);
  let closing: Promise<void> | null = null;
  const close = async () => {
    client.leave();
    settings.log(`agent: leaving; ${runner.describe()}; waiting up to ${settings.graceMs} ms`);
    await runner.drain(settings.graceMs, 5000);
    await client.close();
    await settings.executors.close();
  };
  return { runner, client, close: () => (closing ??= close()) };
}
