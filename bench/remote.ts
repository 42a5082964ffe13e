// `BENCH_ONLY=remote`: the two ways of running work remotely, one after the
// other in the same run: the Open Data Mesh callback round trip
// (remote-callback.ts, against an http job) and executions per second
// through a pull agent against a gRPC agent (pull-agents.ts).

import { run as callbacks } from './remote-callback.js';
import { run as pullAgents } from './pull-agents.js';
import { isMain } from './stats.js';

export async function run(): Promise<Record<string, unknown>> {
  return { bench: 'remote', odm_callback: await callbacks(), pull_agents: await pullAgents() };
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
