// Memory with 100,000 jobs defined, and the startup time to recover them.
// Jobs go in through POST /v1/restore in chunks; each is @manually so the
// figure is the cost of holding jobs, not of running them.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, rssMb, startBenchServer } from './light-server.js';
import { isMain, round } from './stats.js';

const count = Number(process.env['BENCH_JOBS_DEFINED'] ?? 100_000);
const chunk = 2000;

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'ct-bench-many-'));
  let server = await startBenchServer(dir);
  try {
    const emptyRss = rssMb(server.pid);
    const createStart = performance.now();
    for (let at = 0; at < count; at += chunk) {
      await api(server.url, 'POST', '/v1/restore', Array.from({ length: Math.min(chunk, count - at) }, (_, i) => ({
        name: `job-${at + i}`, schedule: '@manually', executor: 'shell', executor_config: { command: 'echo hello' },
        metadata: { team: `t${(at + i) % 17}` },
      })));
    }
    const createSeconds = (performance.now() - createStart) / 1000;
    const vars = (await api(server.url, 'GET', '/debug/vars?gc')).json as { memory: { heap_used_mb: number } };
    const rss = rssMb(server.pid);
    await server.kill9();
    const t0 = performance.now();
    server = await startBenchServer(dir);
    const startupMs = performance.now() - t0;
    const jobs = (await api(server.url, 'GET', '/v1/jobs?_end=1')).json as unknown[];
    const total = jobs.length;
    const after = (await api(server.url, 'GET', '/debug/vars?gc')).json as { memory: { heap_used_mb: number }; jobs: number };
    return {
      bench: 'many-jobs',
      jobs: count,
      create_seconds: round(createSeconds),
      rss_mb_empty: round(emptyRss),
      rss_mb_with_jobs: round(rss),
      heap_used_mb: vars.memory.heap_used_mb,
      startup_recover_ms: round(startupMs),
      jobs_after_restart: after.jobs,
      heap_used_mb_after_restart: after.memory.heap_used_mb,
      listed: total,
    };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
