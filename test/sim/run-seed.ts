// One seed, end to end: simulate, then check the client history for
// linearizability. Shared by the test and `npm run sim`.

import { checkKvLinearizable } from './linearizability.js';
import { simulate, type SimOptions, type SimStats } from './simulation.js';

export interface SeedResult {
  readonly seed: number;
  readonly servers: 3 | 5;
  readonly stats: SimStats;
  readonly failure: string | null;
}

export async function runSeed(options: SimOptions): Promise<SeedResult> {
  const run = await simulate(options);
  let failure = run.failure;
  if (failure === null) {
    const check = checkKvLinearizable(run.history.ops);
    if (!check.ok) failure = `linearizability: ${check.explanation ?? 'history is not linearizable'}`;
  }
  return { seed: options.seed, servers: options.servers, stats: run.stats, failure };
}

export function replayCommand(seed: number, servers: number, ticks = 300): string {
  return `npm run sim -- --seed ${seed} --servers ${servers}${ticks === 300 ? '' : ` --ticks ${ticks}`} --trace`;
}
