// `clocktower agent` without --server: an agent process composed from
// agent/ with the node's executors: the built-in ones in-process, the
// bundled and discovered plugin programs (--plugin-dir) as plugins.

import { startAgent } from '../agent/agent.js';
import type { AgentConfig } from './agent-config.js';
import { loadPlugins } from './node-plugins.js';
import type { Observability } from './observability.js';
import { Metrics } from '../server/observe/metrics.js';
import { listenMetrics } from '../server/observe/metrics-listener.js';
import { splitHostPort, warnInsecure, type StopRequest } from './server.js';
import { streamBatches } from './stream-batches.js';

export interface RunningAgentProcess {
  /** Never resolves by itself: an agent runs until it is stopped. */
  readonly stopped: Promise<StopRequest>;
  close(): Promise<void>;
}

export async function startAgentOnly(config: AgentConfig, obs: Observability): Promise<RunningAgentProcess> {
  const { log } = obs;
  warnInsecure(config, log);
  const metrics = new Metrics('agent');
  // Listen first: a taken --metrics-addr is a start error, before anything runs.
  const listener = config.metricsAddr === null ? null : await listenMetrics(metrics, ...splitHostPort(config.metricsAddr));
  if (listener) log(`agent: metrics on ${listener.url}/metrics`);
  const { registry, described } = loadPlugins(config.pluginDirs, log, (name) => metrics.pluginRestarted(name));
  // Registered once the plugin programs have told their secret keys, so the leader records them with the registration.
  await described;
  const agent = startAgent({
    node: config.nodeName,
    tags: config.tags,
    servers: config.join,
    executors: registry,
    capacity: config.capacity,
    graceMs: config.shutdownGraceMs,
    version: config.version,
    log,
    tls: config.tls,
    batches: streamBatches(),
  }, config.pull ? {
    backoff: { minMs: config.pull.backoffMinMs, maxMs: config.pull.backoffMaxMs, stepMs: config.pull.backoffStepMs },
    pollWaitMs: config.pull.waitMs, token: config.apiToken,
  } : null);
  metrics.watchNode(() => agent.runner.load);
  return {
    stopped: new Promise<StopRequest>(() => {}),
    close: async () => {
      await agent.close();
      await registry.close();
      await listener?.close();
    },
  };
}
