// The production Raft node driver and disk log under the simulation, in the
// test suite: 150 seeds on 3 servers and 40 on 5, each with partitions,
// crashes (at once, or at one of the next disk calls), disk faults and
// restarts from the data dir; every seed checks state machine safety on the
// applied entries, durability of acknowledged writes and agreement after the
// heal. `npm run sim:node -- --seeds N` runs more.

import t from 'tap';
import { runNodeSeed } from './node-sim.js';

const seeds = Number(process.env['NODE_SIM_SEEDS'] ?? 150);

for (const [servers, count] of [[3, seeds], [5, Math.ceil(seeds / 4)]] as const) {
  t.test(`${count} seeds on ${servers} servers: the real driver keeps what it acknowledged, and agrees after the heal`, async (t) => {
    const failures: string[] = [];
    let acked = 0;
    let crashes = 0;
    for (let seed = 1; seed <= count; seed++) {
      const r = await runNodeSeed({ seed, servers });
      acked += r.stats.acked;
      crashes += r.stats.crashes;
      if (r.failure !== null) failures.push(`seed ${seed}: ${r.failure}\n  replay: npm run sim:node -- --seed ${seed} --servers ${servers}`);
    }
    t.same(failures, [], 'no seed fails');
    t.ok(acked > count * 100 && crashes > count, `the runs did real work (${acked} writes acknowledged, ${crashes} crashes)`);
  });
}

t.test('a seed replays exactly', async (t) => {
  t.same(await runNodeSeed({ seed: 9, seconds: 8 }), await runNodeSeed({ seed: 9, seconds: 8 }));
});
