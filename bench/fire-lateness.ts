// Fire lateness: 1,000 jobs on `@every 1s` with the http executor hitting a
// local target, for BENCH_SECONDS (default 30). Lateness = when the request
// reaches the target minus the scheduled time. Baseline in the same run: the
// same pattern with raw timers (1,000 setTimeouts due on each second, each
// sending the same request), measured the same way.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { api, startBenchServer } from './light-server.js';
import { isMain, round, summarize } from './stats.js';

const jobs = Number(process.env['BENCH_JOBS'] ?? 1000);
const seconds = Number(process.env['BENCH_SECONDS'] ?? 30);

interface Target {
  server: Server;
  url: string;
  hits: { key: string; at: number }[];
}

async function startTarget(): Promise<Target> {
  const hits: { key: string; at: number }[] = [];
  const server = createServer((req, res) => {
    hits.push({ key: req.url ?? '', at: performance.timeOrigin + performance.now() });
    res.end('ok');
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

async function rawTimers(target: Target, runSeconds: number): Promise<number[]> {
  const agent = new Agent({ connections: 64 });
  target.hits.length = 0;
  const start = Math.ceil(Date.now() / 1000) * 1000 + 1000;
  const due: number[] = [];
  for (let s = 0; s < runSeconds; s++) {
    const at = start + s * 1000;
    for (let j = 0; j < jobs; j++) {
      due.push(at);
      setTimeout(() => {
        void request(`${target.url}/raw/${at}`, { dispatcher: agent }).then((r) => r.body.dump());
      }, at - Date.now());
    }
  }
  await new Promise((r) => setTimeout(r, start + runSeconds * 1000 + 1500 - Date.now()));
  await agent.close();
  return target.hits.map((h) => h.at - Number(h.key.slice(5)));
}

export async function run(): Promise<Record<string, unknown>> {
  const target = await startTarget();
  const raw = summarize(await rawTimers(target, Math.min(seconds, 10)));
  target.hits.length = 0;

  const dir = mkdtempSync(join(tmpdir(), 'ct-bench-lateness-'));
  const server = await startBenchServer(dir);
  try {
    const specs = Array.from({ length: jobs }, (_, i) => ({
      name: `late-${i}`, schedule: '@every 1s', executor: 'http',
      executor_config: { method: 'GET', url: `${target.url}/job/${i}`, timeout: '10' },
    }));
    await api(server.url, 'POST', '/v1/restore', specs);
    const first = (await api(server.url, 'GET', '/v1/jobs/late-0')).json as { next: string };
    const phase = Date.parse(first.next) % 1000;
    const from = Date.now() + 2000;
    await new Promise((r) => setTimeout(r, seconds * 1000 + 2000));
    const lateness = target.hits
      .filter((h) => h.at >= from)
      .map((h) => {
        const scheduled = Math.floor((h.at - phase) / 1000) * 1000 + phase;
        return h.at - scheduled;
      });
    // "No fire before its time": the committed start of each execution vs its scheduled time.
    let early = 0;
    let checked = 0;
    for (let i = 0; i < jobs; i += 50) {
      const ex = (await api(server.url, 'GET', `/v1/jobs/late-${i}/executions`)).json as { started_at: string | null; scheduled_at: string }[];
      for (const e of ex) {
        if (e.started_at === null) continue;
        checked++;
        if (Date.parse(e.started_at) < Date.parse(e.scheduled_at)) early++;
      }
    }
    const s = summarize(lateness);
    return {
      bench: 'fire-lateness',
      jobs,
      seconds,
      clocktower_ms: s,
      raw_timers_ms: raw,
      expected_fires: jobs * seconds,
      p99_ratio_vs_raw: round(s.p99 / raw.p99),
      fired_early: early,
      executions_checked_for_early: checked,
    };
  } finally {
    await server.stop();
    target.server.close();
    target.server.closeAllConnections();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
