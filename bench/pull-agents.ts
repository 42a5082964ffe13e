// Executions per second through a pull agent (`clocktower agent --pull`,
// HTTP polls to the REST API) against a gRPC agent (`clocktower agent
// --join`, one stream), both joined to the same one-server cluster and
// measured in turns in the same run: manual runs of no-op jobs (shell
// `true`) requested over the API (32 in flight), counted when their results
// are committed. Each is measured `rounds` times; the medians are quoted.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { api } from './light-server.js';
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

async function measure(url: string, prefix: string, r: number): Promise<number> {
  const names = Array.from({ length: jobs }, (_, i) => `${prefix}-${r}-${i}`);
  const finished = async () => {
    const list = (await api(url, 'GET', `/v1/jobs?q=${prefix}-${r}-&_end=${jobs}`)).json as { success_count: number; error_count: number }[];
    return list.reduce((n, j) => n + j.success_count + j.error_count, 0);
  };
  const start = performance.now();
  let requested = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (requested < total) await api(url, 'POST', `/v1/jobs/${names[requested++ % jobs] ?? ''}/run`);
  }));
  let done = 0;
  while ((done = await finished()) < total) await new Promise((res) => setTimeout(res, 20));
  return done / ((performance.now() - start) / 1000);
}

async function createJobs(url: string, prefix: string, r: number, tags: Record<string, string>): Promise<void> {
  await api(url, 'POST', '/v1/restore', Array.from({ length: jobs }, (_, i) => ({
    name: `${prefix}-${r}-${i}`, schedule: '@manually', executor: 'shell', executor_config: { command: 'true' }, tags,
  })));
}

export async function run(): Promise<Record<string, unknown>> {
  const history = ['--history-limit', String(Math.ceil(total / jobs) + 10)];
  const dir = mkdtempSync(join(tmpdir(), 'ct-bench-pull-'));
  const grpc: number[] = [];
  const pull: number[] = [];
  const procs: { stop(): Promise<void> }[] = [];
  try {
    const rpc = `127.0.0.1:${await freePort()}`;
    const server = await spawnUntil(['agent', '--server', '--bootstrap-expect', '1', '--node-name', 's1', '--data-dir', join(dir, 's1'),
      '--rpc-addr', rpc, '--http-addr', '127.0.0.1:0', '--tag', 'role=server', ...history], /API on (http:\/\/[^\s,]+)/);
    procs.push(server);
    const url = server.match[1] ?? '';
    procs.push(await spawnUntil(['agent', '--join', rpc, '--node-name', 'g1', '--tag', 'role=grpc'], /registered with the leader/));
    procs.push(await spawnUntil(['agent', '--pull', '--join', url, '--node-name', 'p1', '--tag', 'role=pull'], /registered with the leader/));
    for (let r = 0; r < rounds; r++) {
      await createJobs(url, 'grpc', r, { role: 'grpc' });
      grpc.push(await measure(url, 'grpc', r));
      await createJobs(url, 'pull', r, { role: 'pull' });
      pull.push(await measure(url, 'pull', r));
    }
  } finally {
    for (const p of procs.reverse()) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const m = { grpc: median(grpc), pull: median(pull) };
  return {
    bench: 'pull-agents',
    executions_per_round: total,
    rounds,
    requests_in_flight: inFlight,
    grpc_agent_per_s: round(m.grpc),
    pull_agent_per_s: round(m.pull),
    ratio_pull_vs_grpc: round(m.pull / m.grpc),
  };
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
