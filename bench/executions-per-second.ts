// Executions per second with a no-op command (shell `true`) through light
// mode: manual runs requested over the API with 32 in flight, counted when
// their results are committed. Baseline in the same run: a raw
// child_process.spawn('true') loop with the same concurrency.

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
    const start = performance.now();
    let requested = 0;
    const finishedCount = async () => {
      let done = 0;
      for (let i = 0; i < jobs; i++) {
        const j = (await api(server.url, 'GET', `/v1/jobs/noop-${i}`)).json as { success_count: number; error_count: number };
        done += j.success_count + j.error_count;
      }
      return done;
    };
    // Keep about `inFlight` executions busy: request more as results land.
    while (requested < total) {
      const busy = ((await api(server.url, 'GET', '/v1/busy')).json as unknown[]).length;
      const room = Math.min(inFlight - busy, total - requested);
      await Promise.all(Array.from({ length: Math.max(0, room) }, () => api(server.url, 'POST', `/v1/jobs/noop-${requested++ % jobs}/run`)));
    }
    let done = 0;
    while ((done = await finishedCount()) < total) await new Promise((r) => setTimeout(r, 50));
    const perSecond = done / ((performance.now() - start) / 1000);
    return {
      bench: 'executions-per-second',
      executions: total,
      in_flight: inFlight,
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
