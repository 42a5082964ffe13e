// The simulation's linearizability checker (test/sim/linearizability.ts) on
// random histories of one register (the hardest case: the checker splits by
// key, so more keys only make it easier), 10 clients each with an operation
// in flight most of the time: median time to accept a linearizable history
// and to reject it with one read corrupted to a value never written, with 5%
// unknown outcomes (clients that timed out) against none (the baseline, same
// run), since unknown outcomes are what multiplies the search.

import { checkKvLinearizable, type Operation } from '../test/sim/linearizability.js';
import { prng } from '../test/sim/prng.js';
import { randomKvHistory } from '../test/sim/random-kv-history.js';
import { isMain, median, round } from './stats.js';

const runs = Number(process.env['BENCH_LIN_RUNS'] ?? 21);
const shape = { clients: 10, opsPerClient: 50, keys: 1 };

function timed(h: readonly Operation[]): { ms: number; ok: boolean; timedOut: boolean } {
  const t0 = performance.now();
  const r = checkKvLinearizable(h);
  return { ms: performance.now() - t0, ok: r.ok, timedOut: r.timedOut === true };
}

function measure(unknownRate: number): { accept_ms_p50: number; reject_ms_p50: number; reject_ms_max: number; wrong: number; timed_out: number } {
  const accept: number[] = [];
  const reject: number[] = [];
  let wrong = 0;
  let timedOut = 0;
  for (let seed = 1; seed <= runs; seed++) {
    const rng = prng(seed);
    const h = randomKvHistory(rng, { ...shape, unknownRate });
    const good = timed(h);
    accept.push(good.ms);
    const reads = h.flatMap((op, i) => (op.input.kind === 'get' && op.ret !== null ? [i] : []));
    const bad = rng.pick(reads);
    const corrupted = timed(h.map((op, i) => (i === bad ? { ...op, output: { value: 'never-written' } } : op)));
    reject.push(corrupted.ms);
    if ((!good.ok && !good.timedOut) || (corrupted.ok && !corrupted.timedOut)) wrong++;
    if (good.timedOut) timedOut++;
    if (corrupted.timedOut) timedOut++;
  }
  return { accept_ms_p50: round(median(accept)), reject_ms_p50: round(median(reject)), reject_ms_max: round(Math.max(...reject)), wrong, timed_out: timedOut };
}

export async function run(): Promise<Record<string, unknown>> {
  measure(0.05); // warm up the JIT
  const baseline = measure(0);
  const unknown = measure(0.05);
  return {
    bench: 'linearizability',
    runs,
    ops_per_history: shape.clients * shape.opsPerClient,
    clients: shape.clients,
    keys: shape.keys,
    no_unknown: baseline,
    unknown_5pct: unknown,
    ratio_accept_unknown_vs_none: round(unknown.accept_ms_p50 / baseline.accept_ms_p50),
    ratio_reject_unknown_vs_none: round(unknown.reject_ms_p50 / baseline.reject_ms_p50),
  };
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
