// The seeded Raft simulation's own tests: a seed replays exactly, and with a
// deliberate bug injected the checks catch it. The 1,000 runs of the suite
// (500 seeds, each on 3 and 5 servers) are in sim-seeds-*.test.ts, a quarter
// each, so they run in parallel with the rest.

import t from 'tap';
import { runSeed } from './run-seed.js';

t.test('a seed replays exactly', async (t) => {
  const a = await runSeed({ seed: 42, servers: 5 });
  const b = await runSeed({ seed: 42, servers: 5 });
  t.same(a.stats, b.stats);
});

t.test('the checks catch a leader that fires before its term has applied an entry', async (t) => {
  const caught = await firstFailure(async (seed) => (await runSeed({ seed, servers: 3, unsafeEarlyFiring: true })).failure);
  t.match(caught, /fire doubled/);
});

t.test('the checks catch reads served without ReadIndex', async (t) => {
  const caught = await firstFailure(async (seed) => (await runSeed({ seed, servers: 3, unsafeStaleReads: true })).failure);
  t.match(caught, /linearizab/);
});

async function firstFailure(run: (seed: number) => Promise<string | null>): Promise<string> {
  for (let seed = 1; seed <= 300; seed++) {
    const failure = await run(seed);
    if (failure !== null) return failure;
  }
  return 'no seed failed';
}
