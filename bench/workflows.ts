// Workflows through light mode, no-op tasks (shell `true`):
//  - fan-out/fan-in: 1 root -> N parallel tasks -> 1 join (N = 1,000 by
//    default) as one run, against N + 2 independent jobs started together
//    (the same work with no edges), in the same process run: time to finish,
//    and the overhead per edge ((run - independent) / edges);
//  - a chain of 100 tasks: time per hop (one task's end to the next one's start,
//    through the run's planner and two commits).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, startBenchServer, type BenchServer } from './light-server.js';
import { isMain, round } from './stats.js';

const fanOut = Number(process.env['BENCH_WORKFLOW_TASKS'] ?? 1000);
const chain = Number(process.env['BENCH_WORKFLOW_CHAIN'] ?? 100);
const noop = { executor: 'shell', executor_config: { command: 'true' } };

interface RunJson { state: string; created_at: string; finished_at: string | null; tasks: { started_at: string | null; finished_at: string | null }[] }

async function runToEnd(server: BenchServer, root: string): Promise<{ ms: number; run: RunJson }> {
  const start = performance.now();
  const id = ((await api(server.url, 'POST', `/v1/jobs/${root}/run`)).json as { run_id: string }).run_id;
  for (;;) {
    const run = (await api(server.url, 'GET', `/v1/runs/${id}`)).json as RunJson;
    if (run.state !== 'running') {
      if (run.state !== 'succeeded') throw new Error(`run ${id} of ${root} ended ${run.state}`);
      return { ms: performance.now() - start, run };
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function independent(server: BenchServer, n: number): Promise<number> {
  const start = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    while (next < n) await api(server.url, 'POST', `/v1/jobs/solo-${next++}/run`);
  }));
  for (;;) {
    const list = (await api(server.url, 'GET', `/v1/jobs?q=solo-&_end=${n}`)).json as { success_count: number; error_count: number }[];
    if (list.reduce((s, j) => s + j.success_count + j.error_count, 0) >= n) return performance.now() - start;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'ct-bench-workflows-'));
  const server = await startBenchServer(dir);
  try {
    const jobs: Record<string, unknown>[] = [{ name: 'fan-root', schedule: '@manually', ...noop }];
    for (let i = 0; i < fanOut; i++) jobs.push({ name: `fan-${i}`, depends_on: [{ job: 'fan-root' }], ...noop });
    jobs.push({ name: 'fan-join', depends_on: Array.from({ length: fanOut }, (_, i) => ({ job: `fan-${i}` })), ...noop });
    for (let i = 0; i < fanOut + 2; i++) jobs.push({ name: `solo-${i}`, schedule: '@manually', ...noop });
    jobs.push({ name: 'chain-0', schedule: '@manually', ...noop });
    for (let i = 1; i < chain; i++) jobs.push({ name: `chain-${i}`, depends_on: [{ job: `chain-${i - 1}` }], ...noop });
    await api(server.url, 'POST', '/v1/restore', jobs);
    const soloMs = await independent(server, fanOut + 2);
    const fan = await runToEnd(server, 'fan-root');
    const edges = fanOut * 2;
    const chained = await runToEnd(server, 'chain-0');
    // Per hop: from a task's end to the next one's start, as the run records them.
    const hops: number[] = [];
    for (let i = 1; i < chained.run.tasks.length; i++) {
      const prev = chained.run.tasks[i - 1]?.finished_at;
      const next = chained.run.tasks[i]?.started_at;
      if (prev && next) hops.push(Date.parse(next) - Date.parse(prev));
    }
    hops.sort((a, b) => a - b);
    return {
      bench: 'workflows',
      fan_out_tasks: fanOut,
      fan_out_run_ms: round(fan.ms),
      independent_jobs: fanOut + 2,
      independent_ms: round(soloMs),
      overhead_per_edge_ms: round((fan.ms - soloMs) / edges, 3),
      chain_tasks: chain,
      chain_run_ms: round(chained.ms),
      chain_ms_per_hop: round(chained.ms / (chain - 1)),
      chain_hop_gap_p50_ms: hops[Math.floor(hops.length / 2)] ?? null,
    };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
