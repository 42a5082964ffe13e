// `npm run sim:disk -- --seeds N [--from S] [--steps K]`: the disk log on the
// simulated disk for many seeds; `--seed S` replays one.

import { parseArgs } from 'node:util';
import { runDiskSeed } from './disk-log-sim.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '1000' },
    from: { type: 'string', default: '1' },
    seed: { type: 'string' },
    steps: { type: 'string', default: '200' },
  },
});
const seeds = values.seed !== undefined ? [Number(values.seed)] : Array.from({ length: Number(values.seeds) }, (_, i) => Number(values.from) + i);
const started = performance.now();
const totals = { ops: 0, acked: 0, crashes: 0, faults: 0, snapshots: 0, truncations: 0 };
let failed = 0;
for (const seed of seeds) {
  const r = await runDiskSeed(seed, Number(values.steps));
  for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += r.stats[k];
  if (r.failure) {
    failed++;
    console.log(`FAIL seed ${seed}: ${r.failure}\n  replay: npm run sim:disk -- --seed ${seed} --steps ${values.steps}`);
  }
}
console.log(JSON.stringify({ bench: 'disk-log-sim', seeds: seeds.length, failed, seconds: Math.round((performance.now() - started) / 100) / 10, ...totals }));
process.exitCode = failed > 0 ? 1 : 0;
