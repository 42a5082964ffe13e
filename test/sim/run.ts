// `npm run sim -- --seeds N [--from S] [--servers 3|5] [--ticks T] [--stop]`: run many
// seeds; `--seed S --servers N --trace` replays one exactly, printing its events.

import { parseArgs } from 'node:util';
import { runSeed, replayCommand } from './run-seed.js';

const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '100' },
    from: { type: 'string', default: '1' },
    seed: { type: 'string' },
    servers: { type: 'string' },
    ticks: { type: 'string', default: '300' },
    trace: { type: 'boolean', default: false },
    /** Stop at the first failing seed (the mutation checks use it). */
    stop: { type: 'boolean', default: false },
  },
});

const ticks = Number(values.ticks);
const sizes: (3 | 5)[] = values.servers === '3' ? [3] : values.servers === '5' ? [5] : [3, 5];
const seeds = values.seed !== undefined ? [Number(values.seed)] : Array.from({ length: Number(values.seeds) }, (_, i) => Number(values.from) + i);
const started = performance.now();
let runs = 0;
let failed = 0;
const totals = { elections: 0, committed: 0, fires: 0, opsOk: 0, crashes: 0, tornWrites: 0, partitions: 0, confChanges: 0, transfers: 0, checks: 0 };
for (const seed of seeds) {
  for (const servers of sizes) {
    const result = await runSeed({ seed, servers, ticks, ...(values.trace ? { trace: (l: string) => console.log(l) } : {}) });
    runs++;
    for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += result.stats[k];
    if (result.failure !== null) {
      failed++;
      console.log(`FAIL seed ${seed} (${servers} servers): ${result.failure}`);
      console.log(`  replay: ${replayCommand(seed, servers, ticks)}`);
      if (values.stop) break;
    }
  }
  if (values.stop && failed > 0) break;
}
console.log(JSON.stringify({ runs, failed, seconds: Number(((performance.now() - started) / 1000).toFixed(1)), totals }));
process.exitCode = failed > 0 ? 1 : 0;
