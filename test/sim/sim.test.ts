// The seeded Raft simulation in the test suite: 1,000 runs (500 seeds, each
// on 3 and 5 servers), every one checked for safety at each step, liveness
// after healing, and a linearizable client history. Then the checks' own
// test: with a deliberate bug injected, they must catch it.

import t from 'tap';
import { replayCommand, runSeed } from './run-seed.js';

const seeds = Number(process.env['SIM_SEEDS'] ?? 500);

t.test(`${seeds} seeds x 3 and 5 servers keep Raft's safety properties and a linearizable history`, async (t) => {
  const failures: string[] = [];
  let committed = 0;
  let elections = 0;
  let ops = 0;
  let tasks = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    for (const servers of [3, 5] as const) {
      const r = await runSeed({ seed, servers });
      committed += r.stats.committed;
      elections += r.stats.elections;
      ops += r.stats.opsOk;
      tasks += r.stats.workflowTasks;
      if (r.failure !== null) failures.push(`seed ${seed}, ${servers} servers: ${r.failure}\n  replay: ${replayCommand(seed, servers)}`);
    }
  }
  t.comment(`${seeds * 2} runs: ${elections} elections, ${committed} entries committed, ${ops} client operations completed`);
  t.same(failures, [], 'no seed fails');
  t.ok(committed > seeds * 20 && ops > seeds * 10, 'the runs did real work');
  t.comment(`${tasks} workflow tasks started, none twice in its run`);
  t.ok(tasks > seeds, 'workflow runs went on through the faults');
});

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
