// Sustained load, as Dkron's own load script makes it (scripts/jobs.sh:
// 2,000 http jobs `@every 1-10s`, `concurrency: forbid`): here 2,000 http jobs
// (BENCH_SOAK_JOBS) on `@every Ns` with N = 1 + (i mod BENCH_SOAK_MAX_EVERY,
// default 7, about 740 fires/s), each hitting a local target with its
// scheduled time in the path. Runs BENCH_SOAK_MINUTES (default 10) in light
// mode, or on 3 servers with BENCH_SOAK_MODE=cluster, and prints one JSON
// line per minute, then a summary:
// - delivered: requests that reached the target in that minute; lateness
//   (arrival minus scheduled time) p50/p99/max;
// - the API: a probe reading one job and a page of the list every 50 ms,
//   p50/p99 of its latency;
// - memory: each server's resident set (MB);
// - the leader's counters: fires committed and skips recorded (by reason).
// The summary accounts for every scheduled second of the run: each job's
// expected seconds from its first delivered one to the end, against what
// reached the target, what was recorded skipped, and what doubled.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { api, rssMb, startBenchServer, type BenchServer } from './light-server.js';
import { startTarget } from './hit-target.js';
import { agreedLeader, serverSpecs, startServerProcess, type ServerProcess } from '../test/support/cluster-processes.js';
import { isMain, round, summarize } from './stats.js';

const jobs = Number(process.env['BENCH_SOAK_JOBS'] ?? 2000);
const minutes = Number(process.env['BENCH_SOAK_MINUTES'] ?? 10);
const maxEvery = Number(process.env['BENCH_SOAK_MAX_EVERY'] ?? 7);
const mode = process.env['BENCH_SOAK_MODE'] === 'cluster' ? 'cluster' : 'light';
const minuteMs = Number(process.env['BENCH_SOAK_MINUTE_MS'] ?? 60_000);

/** Counters from a Prometheus text page: `name{labels}` → value. */
async function counters(url: string): Promise<Map<string, number>> {
  const res = await request(`${url}/metrics`);
  const text = await res.body.text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('clocktower_fires_')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

function delta(after: Map<string, number>, before: Map<string, number>, prefix: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of after) {
    if (!k.startsWith(prefix)) continue;
    const label = /"([^"]*)"/.exec(k)?.[1] ?? k;
    const d = v - (before.get(k) ?? 0);
    if (d !== 0) out[label] = d;
  }
  return out;
}

/** Reads a job and a page of the list every 50 ms; returns and clears the latencies on take(). */
function apiProbe(url: () => string): { take(): number[]; stop(): void } {
  const http = new Agent({ connections: 2 });
  let latencies: number[] = [];
  let stopped = false;
  void (async () => {
    for (let i = 0; !stopped; i++) {
      const t0 = performance.now();
      try {
        const path = i % 2 === 0 ? `/v1/jobs/soak-${i % jobs}` : '/v1/jobs?_start=0&_end=20';
        const res = await request(url() + path, { dispatcher: http });
        await res.body.dump();
        latencies.push(performance.now() - t0);
      } catch {
        latencies.push(Number.POSITIVE_INFINITY);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    take: () => {
      const l = latencies;
      latencies = [];
      return l;
    },
    stop: () => {
      stopped = true;
      void http.close();
    },
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const target = await startTarget();
  const dir = mkdtempSync(join(tmpdir(), 'ct-bench-soak-'));
  let light: BenchServer | undefined;
  const servers: ServerProcess[] = [];
  try {
    let url: string;
    let pids: () => Record<string, number>;
    if (mode === 'light') {
      light = await startBenchServer(join(dir, 'light'));
      url = light.url;
      const pid = light.pid;
      pids = () => ({ light: pid });
    } else {
      const specs = await serverSpecs(dir, ['s1', 's2', 's3']);
      servers.push(...await Promise.all(specs.map((spec) => startServerProcess(spec))));
      const leader = await agreedLeader(servers);
      url = leader.url;
      pids = () => Object.fromEntries(servers.map((s) => [s === leader ? 'leader' : s.name, s.child.pid ?? 0]));
    }
    const specs = Array.from({ length: jobs }, (_, i) => ({
      name: `soak-${i}`, schedule: `@every ${1 + (i % maxEvery)}s`, executor: 'http', concurrency: 'forbid',
      executor_config: { method: 'GET', url: `${target.url}/job/${i}/{{ .ScheduledTime }}`, timeout: '10' },
    }));
    for (let at = 0; at < jobs; at += 1000) await api(url, 'POST', '/v1/restore', specs.slice(at, at + 1000));
    const startedAt = Date.now();
    const probe = apiProbe(() => url);
    await target.take();
    probe.take();
    let before = await counters(url);
    const perMinute: Record<string, unknown>[] = [];
    /** Every delivered (job, scheduled second), and how many times. */
    const seen = new Map<string, number>();
    const firstSeen = new Map<number, number>();
    let doubled = 0;
    for (let m = 1; m <= minutes; m++) {
      await new Promise((r) => setTimeout(r, startedAt + m * minuteMs - Date.now()));
      const hits = await target.take();
      const lateness: number[] = [];
      for (const [path, at] of hits) {
        const parts = path.split('/');
        const job = Number(parts[2]);
        const scheduled = Date.parse(decodeURIComponent(parts[3] ?? ''));
        lateness.push(at - scheduled);
        const key = `${job} ${scheduled}`;
        const n = (seen.get(key) ?? 0) + 1;
        seen.set(key, n);
        if (n > 1) doubled++;
        if (!firstSeen.has(job) || scheduled < (firstSeen.get(job) ?? 0)) firstSeen.set(job, scheduled);
      }
      const after = await counters(url);
      const apiMs = probe.take();
      const line = {
        bench: 'soak', mode, minute: m, delivered: hits.length, fires_per_s: round(hits.length / (minuteMs / 1000)),
        lateness_ms: summarize(lateness), api_ms: summarize(apiMs.filter(Number.isFinite)), api_failed: apiMs.filter((x) => !Number.isFinite(x)).length,
        rss_mb: Object.fromEntries(Object.entries(pids()).map(([k, pid]) => [k, round(rssMb(pid))])),
        fired: delta(after, before, 'clocktower_fires_total'), skipped: delta(after, before, 'clocktower_fires_skipped_total'),
      };
      before = after;
      console.error(JSON.stringify(line));
      perMinute.push(line);
    }
    probe.stop();
    // Every scheduled second from each job's first delivered one up to a few
    // seconds before the end (later ones may still be on their way).
    const endMs = startedAt + minutes * minuteMs - 15_000;
    let expected = 0;
    let missing = 0;
    for (const [job, first] of firstSeen) {
      const every = (1 + (job % maxEvery)) * 1000;
      for (let s = first; s <= endMs; s += every) {
        expected++;
        if (!seen.has(`${job} ${s}`)) missing++;
      }
    }
    const skippedAll: Record<string, number> = {};
    for (const line of perMinute) for (const [k, v] of Object.entries(line['skipped'] as Record<string, number>)) skippedAll[k] = (skippedAll[k] ?? 0) + v;
    const first = perMinute[0] as { lateness_ms: { p99: number }; api_ms: { p99: number }; rss_mb: Record<string, number> } | undefined;
    const last = perMinute.at(-1) as typeof first;
    return {
      bench: 'soak', mode, jobs, minutes, max_every_s: maxEvery,
      expected_seconds: expected, missing_seconds: missing, doubled, skipped_recorded: skippedAll,
      first_minute: first ? { lateness_p99_ms: first.lateness_ms.p99, api_p99_ms: first.api_ms.p99, rss_mb: first.rss_mb } : null,
      last_minute: last ? { lateness_p99_ms: last.lateness_ms.p99, api_p99_ms: last.api_ms.p99, rss_mb: last.rss_mb } : null,
      ratio_last_vs_first: first && last ? {
        lateness_p99: round(last.lateness_ms.p99 / Math.max(1, first.lateness_ms.p99), 2), api_p99: round(last.api_ms.p99 / Math.max(1, first.api_ms.p99), 2),
      } : null,
    };
  } finally {
    await light?.stop();
    await Promise.all(servers.map((s) => s.stop()));
    target.child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
