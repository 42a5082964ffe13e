// `clocktower light`: the whole of Clocktower in one process on one node —
// a one-server cluster, the scheduler, the built-in shell and http
// executors in-process, and the REST API. It is a server (bin/server.ts)
// with a cluster of one: the same Raft node, state machine and dispatcher.

import type { LightConfig } from './light-config.js';
import type { Observability } from './observability.js';
import { startServer, type RunningServer } from './server.js';

export function startLight(config: LightConfig, obs: Observability): Promise<RunningServer> {
  return startServer(config, null, obs);
}
