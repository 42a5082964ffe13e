// `npm run bench`: every benchmark in turn, one JSON object per line.
// BENCH_ONLY=name runs just one (fire-lateness, executions-per-second, log-append, many-jobs, raft-transport, raft-commits, agents).

import { isMain } from './stats.js';

const benches: Record<string, () => Promise<{ run: () => Promise<Record<string, unknown>> }>> = {
  'log-append': () => import('./log-append.js'),
  'executions-per-second': () => import('./executions-per-second.js'),
  'fire-lateness': () => import('./fire-lateness.js'),
  'many-jobs': () => import('./many-jobs.js'),
  'raft-transport': () => import('./raft-transport.js'),
  'raft-commits': () => import('./raft-commits.js'),
  agents: () => import('./agents.js'),
};

if (isMain(import.meta.url)) {
  const only = process.env['BENCH_ONLY'];
  for (const [name, load] of Object.entries(benches)) {
    if (only && only !== name) continue;
    const { run } = await load();
    console.log(JSON.stringify(await run()));
  }
}
