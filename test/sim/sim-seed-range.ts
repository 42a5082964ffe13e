// A range of the suite's simulation seeds as one tap test: each seed on 3
// and 5 servers, every run checked for safety at each step, liveness after
// healing, and a linearizable client history. The suite runs 500 seeds
// (SIM_SEEDS), a quarter in each of sim-seeds-{1,2,3,4}.test.ts.

import t from 'tap';
import { replayCommand, runSeed } from './run-seed.js';

const seeds = Number(process.env['SIM_SEEDS'] ?? 500);

/** Registers the test of quarter `part` (1-4) of the seeds. */
export function simSeedQuarter(part: 1 | 2 | 3 | 4): void {
  const size = Math.ceil(seeds / 4);
  const from = (part - 1) * size + 1;
  const to = Math.min(seeds, part * size);
  t.test(`seeds ${from}-${to} x 3 and 5 servers keep Raft's safety properties and a linearizable history`, async (t) => {
    const failures: string[] = [];
    let committed = 0;
    let elections = 0;
    let ops = 0;
    let tasks = 0;
    for (let seed = from; seed <= to; seed++) {
      for (const servers of [3, 5] as const) {
        const r = await runSeed({ seed, servers });
        committed += r.stats.committed;
        elections += r.stats.elections;
        ops += r.stats.opsOk;
        tasks += r.stats.workflowTasks;
        if (r.failure !== null) failures.push(`seed ${seed}, ${servers} servers: ${r.failure}\n  replay: ${replayCommand(seed, servers)}`);
      }
    }
    const n = to - from + 1;
    t.comment(`${n * 2} runs: ${elections} elections, ${committed} entries committed, ${ops} client operations completed`);
    t.same(failures, [], 'no seed fails');
    t.ok(committed > n * 20 && ops > n * 10, 'the runs did real work');
    t.comment(`${tasks} workflow tasks started, none twice in its run`);
    t.ok(tasks > n, 'workflow runs went on through the faults');
  });
}
