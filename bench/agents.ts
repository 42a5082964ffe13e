// Executions per second end to end through agents, with a no-op command
// (shell `true`): manual runs requested over the API (32 requests in
// flight), counted when their results are committed. Three set-ups, the
// same run:
// - light: `clocktower light`, executors in-process (the baseline);
// - server_own_agent: a one-server cluster running untagged jobs on its own
//   agent (in-process link, no network hop);
// - remote_agent: the same server with jobs tagged for one separate
//   `clocktower agent --join` process (gRPC stream over loopback).
// Each is measured `rounds` times; the medians are quoted.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { api, startBenchServer } from './light-server.js';
import { isMain, median, round } from './stats.js';
import { freePort } from '../test/support/free-port.js';

const total = Number(process.env['BENCH_EXECUTIONS'] ?? 1000);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);
const inFlight = 32;
const jobs = 50;
const mainJs = resolve('dist/bin/main.js');


interface Proc { child: ChildProcess; stop(): Promise<void> }

function spawnUntil(args: string[], pattern: RegExp): Promise<Proc & { match: RegExpExecArray }> {
  const child = spawn(process.execPath, [mainJs, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  let log = '';
  return new Promise((res, rej) => {
    child.stderr?.on('data', (c: Buffer) => {
      log += c.toString();
      const m = pattern.exec(log);
      if (m) res({ child, match: m, stop: async () => { child.kill('SIGTERM'); await exited; } });
    });
    void exited.then(() => rej(new Error(`clocktower ${args[0] ?? ''} exited:\n${log}`)));
  });
}

/** Runs `total` manual runs over the API; executions per second until all results are committed. */
async function measure(url: string, prefix: string, round: number): Promise<number> {
  const names = Array.from({ length: jobs }, (_, i) => `${prefix}-${round}-${i}`);
  const finished = async () => {
    const list = (await api(url, 'GET', `/v1/jobs?q=${prefix}-${round}-&_end=${jobs}`)).json as { success_count: number; error_count: number }[];
    return list.reduce((n, j) => n + j.success_count + j.error_count, 0);
  };
  const start = performance.now();
  let requested = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (requested < total) await api(url, 'POST', `/v1/jobs/${names[requested++ % jobs] ?? ''}/run`);
  }));
  let done = 0;
  while ((done = await finished()) < total) await new Promise((r) => setTimeout(r, 20));
  return done / ((performance.now() - start) / 1000);
}

async function createJobs(url: string, prefix: string, round: number, tags: Record<string, string>): Promise<void> {
  await api(url, 'POST', '/v1/restore', Array.from({ length: jobs }, (_, i) => ({
    name: `${prefix}-${round}-${i}`, schedule: '@manually', executor: 'shell', executor_config: { command: 'true' }, tags,
  })));
}

export async function run(): Promise<Record<string, unknown>> {
  const history = ['--history-limit', String(Math.ceil(total / jobs) + 10)];
  const dir = mkdtempSync(join(tmpdir(), 'ct-bench-agents-'));
  const light: number[] = [];
  const own: number[] = [];
  const remote: number[] = [];
  // All three run at once and are measured in turns, round after round, so
  // load from elsewhere and warm-up weigh on each the same.
  const procs: { stop(): Promise<void> }[] = [];
  try {
    const lightServer = await startBenchServer(join(dir, 'light'), history);
    procs.push(lightServer);
    const rpc = `127.0.0.1:${await freePort()}`;
    const server = await spawnUntil(['agent', '--server', '--bootstrap-expect', '1', '--node-name', 's1', '--data-dir', join(dir, 's1'),
      '--rpc-addr', rpc, '--http-addr', '127.0.0.1:0', '--tag', 'role=server', ...history], /API on (http:\/\/[^\s,]+)/);
    procs.push(server);
    const url = server.match[1] ?? '';
    procs.push(await spawnUntil(['agent', '--join', rpc, '--node-name', 'w1', '--tag', 'role=worker'], /registered with the leader/));
    for (let r = 0; r < rounds; r++) {
      await createJobs(lightServer.url, 'light', r, {});
      light.push(await measure(lightServer.url, 'light', r));
      await createJobs(url, 'own', r, {});
      own.push(await measure(url, 'own', r));
      await createJobs(url, 'remote', r, { role: 'worker' });
      remote.push(await measure(url, 'remote', r));
    }
  } finally {
    for (const p of procs.reverse()) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const m = { light: median(light), own: median(own), remote: median(remote) };
  return {
    bench: 'agents',
    executions_per_round: total,
    rounds,
    requests_in_flight: inFlight,
    light_per_s: round(m.light),
    server_own_agent_per_s: round(m.own),
    remote_agent_per_s: round(m.remote),
    ratio_remote_vs_light: round(m.remote / m.light),
    ratio_own_agent_vs_light: round(m.own / m.light),
  };
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
