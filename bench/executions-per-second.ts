// Executions per second with a no-op command (shell `true`) through light
// mode: manual runs requested over the API (32 requests in flight), counted
// when their results are committed. Baseline in the same run: a raw
// child_process.spawn('true') loop with 32 in flight.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, startBenchServer } from './light-server.js';
import { isMain, round } from './stats.js';

const total = Number(process.env['BENCH_EXECUTIONS'] ?? 2000);
const inFlight = 32;
const jobs = 100;

async function rawSpawn(n: number): Promise<number> {
  const start = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      await new Promise<void>((res, rej) => {
        const c = spawn('true', [], { stdio: ['ignore', 'pipe', 'pipe'] });
        c.stdout.resume();
        c.stderr.resume();
        c.once('error', rej);
        c.once('close', () => res());
      });
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return n / ((performance.now() - start) / 1000);
}

export async function run(): Promise<Record<string, unknown>> {
  const raw = await rawSpawn(total);
  const dir = mkdtempSync(join(tmpdir(), 'ct-bench-exec-'));
  const server = await startBenchServer(dir, ['--history-limit', String(Math.ceil(total / jobs) + 10)]);
  try {
    await api(server.url, 'POST', '/v1/restore', Array.from({ length: jobs }, (_, i) => ({
      name: `noop-${i}`, schedule: '@manually', executor: 'shell', executor_config: { command: 'true' },
    })));
    const finished = async () => {
      const list = (await api(server.url, 'GET', `/v1/jobs?q=noop-&_end=${jobs}`)).json as { success_count: number; error_count: number }[];
      return list.reduce((n, j) => n + j.success_count + j.error_count, 0);
    };
    // Ask for every run up front (32 requests in flight; each answers once its fire is committed),
    // then wait for the last result to be committed.
    const start = performance.now();
    let requested = 0;
    await Promise.all(Array.from({ length: inFlight }, async () => {
      while (requested < total) await api(server.url, 'POST', `/v1/jobs/noop-${requested++ % jobs}/run`);
    }));
    let done = 0;
    while ((done = await finished()) < total) await new Promise((r) => setTimeout(r, 20));
    const perSecond = done / ((performance.now() - start) / 1000);
    return {
      bench: 'executions-per-second',
      executions: total,
      requests_in_flight: inFlight,
      clocktower_per_s: round(perSecond),
      raw_spawn_per_s: round(raw),
      ratio_vs_raw: round(perSecond / raw),
    };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
