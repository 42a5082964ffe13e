// Fire lateness: 1,000 jobs on `@every 1s` with the http executor hitting a
// local target, for BENCH_SECONDS (default 30). Lateness = when the request
// reaches the target minus the scheduled time, which each request carries in
// its path (`{{ .ScheduledTime }}` in the job's URL), so a request more than a
// second late reads as late, not as on time for the next second. Baseline in the same run: the
// same pattern with raw timers (1,000 setTimeouts due on each second, each
// sending the same request), measured the same way.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { api, startBenchServer } from './light-server.js';
import { startTarget, type Target } from './hit-target.js';
import { isMain, round, summarize } from './stats.js';

const jobs = Number(process.env['BENCH_JOBS'] ?? 1000);
const seconds = Number(process.env['BENCH_SECONDS'] ?? 30);

/** The same pattern with raw timers: `jobs` setTimeouts due on each second, each sending one request. */
async function rawTimers(target: Target, runSeconds: number): Promise<number[]> {
  const agent = new Agent({ connections: 64 });
  await target.take();
  const start = Math.ceil(Date.now() / 1000) * 1000 + 1000;
  for (let s = 0; s < runSeconds; s++) {
    const at = start + s * 1000;
    for (let j = 0; j < jobs; j++) {
      setTimeout(() => {
        void request(`${target.url}/raw/${at}`, { dispatcher: agent }).then((r) => r.body.dump());
      }, at - Date.now());
    }
  }
  await new Promise((r) => setTimeout(r, start + runSeconds * 1000 + 1500 - Date.now()));
  await agent.close();
  return (await target.take()).map(([path, at]) => at - Number(path.slice(5)));
}

export async function run(): Promise<Record<string, unknown>> {
  const target = await startTarget();
  // The baseline runs as long as the measured run, so their p99s are of the same number of seconds.
  const raw = summarize(await rawTimers(target, seconds));

  const dir = mkdtempSync(join(tmpdir(), 'ct-bench-lateness-'));
  const server = await startBenchServer(dir);
  try {
    const specs = Array.from({ length: jobs }, (_, i) => ({
      name: `late-${i}`, schedule: '@every 1s', executor: 'http',
      executor_config: { method: 'GET', url: `${target.url}/job/${i}/{{ .ScheduledTime }}`, timeout: '10' },
    }));
    await api(server.url, 'POST', '/v1/restore', specs);
    // Let the first second settle, then measure `seconds` whole seconds.
    await new Promise((r) => setTimeout(r, 2000));
    await target.take();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const lateness = (await target.take()).map(([path, at]) => at - Date.parse(decodeURIComponent(path.slice(path.lastIndexOf('/') + 1))));
    // "No fire before its time": the committed start of each execution vs its scheduled time.
    let early = 0;
    let checked = 0;
    const decided: number[] = [];
    for (let i = 0; i < jobs; i += 50) {
      const ex = (await api(server.url, 'GET', `/v1/jobs/late-${i}/executions`)).json as { started_at: string | null; scheduled_at: string }[];
      for (const e of ex) {
        if (e.started_at === null) continue;
        checked++;
        const late = Date.parse(e.started_at) - Date.parse(e.scheduled_at);
        decided.push(late);
        if (late < 0) early++;
      }
    }
    const s = summarize(lateness);
    return {
      bench: 'fire-lateness',
      jobs,
      seconds,
      clocktower_ms: s,
      raw_timers_ms: raw,
      requests_in_window: s.n,
      fires_expected_in_window: jobs * seconds,
      committed_start_late_ms: summarize(decided),
      p99_ratio_vs_raw: round(s.p99 / raw.p99),
      fired_early: early,
      executions_checked_for_early: checked,
    };
  } finally {
    await server.stop();
    target.child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
