// How long a snapshot holds the event loop: a state of BENCH_SNAP_JOBS jobs
// (default 2,000) with BENCH_SNAP_RUNS finished executions each (default
// 100, Dkron's history limit: the state Dkron's load script reaches), each
// with a 100-byte output. snapshot() serialises it at once (the baseline: the
// loop is held for all of it); snapshotSlices() one slice per turn of the loop: the longest gap
// between two turns of the loop while it runs, and its total time. Medians of
// BENCH_SNAP_ROUNDS (default 5).

import { CommandType, type Command } from '../server/state/commands.js';
import type { JobSpec } from '../server/state/job.js';
import { jobSpec } from '../test/support/job-spec.js';
import { StateMachine } from '../server/state/state-machine.js';
import { isMain, median, round } from './stats.js';

const jobs = Number(process.env['BENCH_SNAP_JOBS'] ?? 2000);
const runs = Number(process.env['BENCH_SNAP_RUNS'] ?? 100);
const rounds = Number(process.env['BENCH_SNAP_ROUNDS'] ?? 5);

function spec(name: string): JobSpec {
  return jobSpec(name, {
    concurrency: 'forbid', executor: 'http', executorConfig: { method: 'GET', url: 'http://127.0.0.1:8080/job/{{ .ScheduledTime }}', timeout: '10' },
  });
}

function build(): StateMachine {
  const sm = new StateMachine({ historyLimit: runs });
  let index = 0;
  const apply = (c: Command) => {
    const r = sm.apply(c, ++index);
    if (!r.ok) throw r.error;
  };
  const names = Array.from({ length: jobs }, (_, i) => `job-${i}`);
  apply({ type: CommandType.PutJobs, atMs: 1000, jobs: names.map(spec) });
  const output = 'x'.repeat(99) + '\n';
  for (let r = 0; r < runs; r++) {
    const at = 2000 + r * 1000;
    apply({
      type: CommandType.RecordFires, atMs: at, skips: [],
      fires: names.map((jobName) => ({ jobName, scheduledAtMs: at, trigger: 'schedule' as const, nodes: ['n1'] })),
      lastScheduled: names.map((jobName) => ({ jobName, atMs: at })),
    });
    const ids = names.map((n) => sm.executionsOf(n)?.at(-1)?.id ?? '');
    apply({
      type: CommandType.FinishExecutions, atMs: at + 100,
      results: ids.map((id) => ({ id, finishedAtMs: at + 100, state: 'succeeded' as const, output, outputTruncated: false, exitCode: 0, error: '' })),
    });
  }
  return sm;
}

/** The longest gap between two turns of the event loop while `work` runs, and its total time (ms). */
async function measure(work: () => Promise<unknown>): Promise<{ longestGapMs: number; totalMs: number; bytes: number }> {
  let longest = 0;
  let last = performance.now();
  let done = false;
  const turn = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (!done) setImmediate(turn);
  };
  setImmediate(turn);
  const t0 = performance.now();
  const data = await work() as Uint8Array;
  const totalMs = performance.now() - t0;
  done = true;
  await new Promise((r) => setImmediate(r));
  longest = Math.max(longest, performance.now() - last);
  return { longestGapMs: longest, totalMs, bytes: data.length };
}

export async function run(): Promise<Record<string, unknown>> {
  const sm = build();
  const sync: { longestGapMs: number; totalMs: number; bytes: number }[] = [];
  const sliced: typeof sync = [];
  for (let r = 0; r < rounds; r++) {
    sync.push(await measure(() => Promise.resolve(sm.snapshot())));
    sliced.push(await measure(async () => {
      const slices = sm.snapshotSlices();
      for (;;) {
        const step = slices.next();
        if (step.done === true) return step.value;
        await new Promise((r) => setImmediate(r));
      }
    }));
  }
  const med = (list: typeof sync, k: 'longestGapMs' | 'totalMs') => round(median(list.map((x) => x[k])));
  const syncGap = med(sync, 'longestGapMs');
  const asyncGap = med(sliced, 'longestGapMs');
  return {
    bench: 'snapshot-stall', jobs, executions: jobs * runs, rounds, snapshot_mb: round((sync[0]?.bytes ?? 0) / 1e6),
    at_once: { loop_held_ms: syncGap, total_ms: med(sync, 'totalMs') },
    in_slices: { longest_loop_gap_ms: asyncGap, total_ms: med(sliced, 'totalMs') },
    ratio_longest_gap_vs_at_once: round(asyncGap / syncGap, 3),
  };
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
