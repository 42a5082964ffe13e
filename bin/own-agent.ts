// A server's own agent (`clocktower agent --server`): the agent runner with
// this node's executors, a client that dials the servers like any agent, and
// the in-process link to this server's host while it leads. The server drives
// it through server/node's OwnAgent.

import type { AgentExecutorHost } from '../server/dispatch/agent-executor-host.js';
import type { OwnAgent, ServerAgentSettings } from '../server/node/server-agents.js';
import type { ExecutorRegistry } from '../plugins/sdk/executor-registry.js';
import { AgentClient } from '../agent/agent-client.js';
import type { TlsFiles } from '../common/tls.js';
import { AgentRunner } from '../agent/agent-runner.js';
import { LocalAgentLink } from './local-agent-link.js';
import { streamBatches } from './stream-batches.js';

export function ownAgent(host: AgentExecutorHost, options: {
  readonly nodeName: string;
  /** This server's RPC address, and the --join addresses: where the agent dials. */
  readonly servers: readonly string[];
  readonly executors: ExecutorRegistry;
  readonly version: string;
  readonly settings: Pick<ServerAgentSettings, 'tags' | 'capacity'>;
  readonly log: (line: string, fields?: Readonly<Record<string, unknown>>) => void;
  readonly tls: TlsFiles | null;
}): OwnAgent {
  const { settings, log } = options;
  const runner = new AgentRunner({
    node: options.nodeName, tags: settings.tags, executors: options.executors, capacity: settings.capacity, version: options.version, log,
  });
  const client = new AgentClient({ servers: [...options.servers], runner, log, tls: options.tls, batches: streamBatches() });
  const link = new LocalAgentLink(runner, host, log);
  return {
    start: () => client.start(),
    attach: () => {
      client.pause();
      link.connect();
    },
    detach: () => link.disconnect(),
    dial: () => client.resume(),
    leave: (attached) => (attached ? link.leave() : client.leave()),
    load: () => runner.load,
    drain: (graceMs, ackMs) => runner.drain(graceMs, ackMs),
    declaredSecretKeys: () => runner.declaredSecretKeys(),
    close: () => client.close(),
  };
}
