// `npm run sim:node -- --seeds N [--from S] [--seconds T] [--servers 3|5] [--stop]`:
// the production Raft driver and disk log under the simulation for many
// seeds; `--seed S` replays one.

import { parseArgs } from 'node:util';
import { runNodeSeed } from './node-sim.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '100' },
    from: { type: 'string', default: '1' },
    seed: { type: 'string' },
    seconds: { type: 'string', default: '20' },
    servers: { type: 'string', default: '3' },
    /** Stop at the first failing seed (the mutation checks use it). */
    stop: { type: 'boolean', default: false },
  },
});
const seeds = values.seed !== undefined ? [Number(values.seed)] : Array.from({ length: Number(values.seeds) }, (_, i) => Number(values.from) + i);
const servers = values.servers === '5' ? 5 : 3;
const started = performance.now();
const totals = { proposed: 0, acked: 0, crashes: 0, diskFaults: 0, partitions: 0, leaders: 0, timers: 0 };
let failed = 0;
for (const seed of seeds) {
  const r = await runNodeSeed({ seed, servers, seconds: Number(values.seconds) });
  for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += r.stats[k];
  if (r.failure) {
    failed++;
    console.log(`FAIL seed ${seed}: ${r.failure}\n  replay: npm run sim:node -- --seed ${seed} --seconds ${values.seconds} --servers ${servers}`);
    if (values.stop) break;
  }
}
console.log(JSON.stringify({ bench: 'node-sim', seeds: seeds.length, servers, failed, seconds: Math.round((performance.now() - started) / 100) / 10, ...totals }));
process.exitCode = failed > 0 ? 1 : 0;
