// `clocktower agent` without --server: an agent process composed from
// agent/ with the built-in executors in-process.

import { startAgent } from '../agent/agent.js';
import { ExecutorRegistry } from '../plugins/sdk/executor-registry.js';
import { ShellExecutor } from '../plugins/executors/shell/shell-executor.js';
import { HttpExecutor } from '../plugins/executors/http/http-executor.js';
import type { AgentConfig } from './agent-config.js';

export interface RunningAgentProcess {
  /** Never resolves by itself: an agent runs until it is stopped. */
  readonly stopped: Promise<void>;
  close(): Promise<void>;
}

export function startAgentOnly(config: AgentConfig, log: (line: string) => void): Promise<RunningAgentProcess> {
  const agent = startAgent({
    node: config.nodeName,
    tags: config.tags,
    servers: config.join,
    executors: new ExecutorRegistry([new ShellExecutor(), new HttpExecutor()]),
    capacity: config.capacity,
    graceMs: config.shutdownGraceMs,
    version: config.version,
    log,
  });
  return Promise.resolve({ stopped: new Promise<void>(() => {}), close: () => agent.close() });
}
