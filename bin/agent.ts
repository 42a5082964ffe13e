// `clocktower agent` without --server: an agent process composed from
// agent/ with the node's executors: the built-in ones in-process, the
// bundled and discovered plugin programs (--plugin-dir) as plugins.

import { startAgent } from '../agent/agent.js';
import type { AgentConfig } from './agent-config.js';
import { loadPlugins } from './node-plugins.js';

export interface RunningAgentProcess {
  /** Never resolves by itself: an agent runs until it is stopped. */
  readonly stopped: Promise<void>;
  close(): Promise<void>;
}

export function startAgentOnly(config: AgentConfig, log: (line: string) => void): Promise<RunningAgentProcess> {
  const { registry } = loadPlugins(config.pluginDirs, log);
  const agent = startAgent({
    node: config.nodeName,
    tags: config.tags,
    servers: config.join,
    executors: registry,
    capacity: config.capacity,
    graceMs: config.shutdownGraceMs,
    version: config.version,
    log,
  });
  return Promise.resolve({
    stopped: new Promise<void>(() => {}),
    close: async () => {
      await agent.close();
      await registry.close();
    },
  });
}
