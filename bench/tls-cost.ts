// What mutual TLS costs: two real 3-server clusters (`clocktower agent
// --server` processes) with one agent each, one on plain loopback and one on
// mutual TLS (certificates from `clocktower tls`, the API over HTTPS with a
// CLI certificate), measured in alternating rounds (BENCH_TLS_ROUNDS, default
// 3) of the same run:
// - commits per second: job writes (PUT /v1/jobs/NAME, 32 in flight, for
//   BENCH_TLS_SECONDS, default 3) through the leader's API, each a Raft commit
//   replicated to the other two servers;
// - executions per second: BENCH_TLS_EXECUTIONS (default 600) manual runs of
//   shell `true` on the agent, 32 requests in flight, counted when their
//   results are committed.
// Figures are medians of the rounds, with the TLS / plain ratio.

import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { tlsCommand } from '../bin/cli/tls-commands.js';
import { startAgentProcess, type AgentProcess } from '../test/support/agent-process.js';
import { serverSpecs, startServerProcess, type ServerProcess } from '../test/support/cluster-processes.js';
import { tempDir } from '../test/support/light-process.js';
import { isMain, median, round } from './stats.js';

const rounds = Number(process.env['BENCH_TLS_ROUNDS'] ?? 3);
const seconds = Number(process.env['BENCH_TLS_SECONDS'] ?? 3);
const executions = Number(process.env['BENCH_TLS_EXECUTIONS'] ?? 600);
const inFlight = 32;

interface Files { ca: string; cert: string; key: string }
const tlsArgs = (f: Files) => ['--tls-ca', f.ca, '--tls-cert', f.cert, '--tls-key', f.key];

/** One cluster with its agent, and an HTTP client for its API. */
interface Arm {
  readonly name: 'plain' | 'tls';
  readonly servers: ServerProcess[];
  readonly agent: AgentProcess;
  readonly base: (s: ServerProcess) => string;
  readonly http: Agent;
  leader: ServerProcess | null;
}

async function api(arm: Arm, s: ServerProcess, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await request(arm.base(s) + path, {
    method: method as 'GET', dispatcher: arm.http, headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  let json: unknown = text;
  try { json = JSON.parse(text); } catch { /* text */ }
  return { status: res.statusCode, json };
}

async function poll<T>(what: string, probe: () => Promise<T | undefined>, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function leaderOf(arm: Arm): Promise<ServerProcess> {
  return poll(`the ${arm.name} cluster's leader`, async () => {
    const names = await Promise.all(arm.servers.map(async (s) => {
      const r = await api(arm, s, 'GET', '/v1/leader');
      return r.status === 200 ? (r.json as { Name: string }).Name : null;
    }));
    const first = names[0];
    if (!first || names.some((n) => n !== first)) return undefined;
    return arm.servers.find((s) => s.name === first);
  });
}

async function inParallel(until: () => boolean, one: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (until()) await one(next++);
  }));
}

async function commitsPerSecond(arm: Arm, leader: ServerProcess, roundNo: number): Promise<number> {
  let ok = 0;
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  await inParallel(() => performance.now() < end, async (i) => {
    const name = `w-${roundNo}-${i % 200}`;
    const r = await api(arm, leader, 'PUT', `/v1/jobs/${name}`, { name, schedule: '@manually', executor: 'shell', executor_config: { command: 'true' }, metadata: { n: String(i) } });
    if (r.status < 300) ok++;
  });
  return ok / ((performance.now() - start) / 1000);
}

async function executionsPerSecond(arm: Arm, leader: ServerProcess, roundNo: number): Promise<number> {
  const prefix = `x-${roundNo}`;
  const names = Array.from({ length: 50 }, (_, i) => `${prefix}-${i}`);
  const made = await api(arm, leader, 'POST', '/v1/restore', names.map((name) => ({ name, schedule: '@manually', executor: 'shell', executor_config: { command: 'true' }, tags: { role: 'bench' } })));
  if (made.status !== 200) throw new Error(`bench: restore failed: ${JSON.stringify(made.json)}`);
  const finished = async () => {
    const list = (await api(arm, leader, 'GET', `/v1/jobs?q=${prefix}-&_end=100`)).json as { success_count: number; error_count: number }[];
    return list.reduce((n, j) => n + j.success_count + j.error_count, 0);
  };
  let sent = 0;
  const start = performance.now();
  await inParallel(() => sent < executions, async () => {
    const i = sent++;
    await api(arm, leader, 'POST', `/v1/jobs/${names[i % names.length] ?? ''}/run`);
  });
  await poll('the results to be committed', async () => ((await finished()) >= executions ? true : undefined));
  return executions / ((performance.now() - start) / 1000);
}

export async function run(): Promise<Record<string, unknown>> {
  const root = tempDir('ct-bench-tls-');
  const certs = join(root.path, 'certs');
  mkdirSync(certs);
  const tls = (args: string[]) => tlsCommand(args, () => {});
  tls(['ca', 'create', '--dir', certs]);
  const caArgs = ['--ca', join(certs, 'clocktower-ca.pem'), '--key', join(certs, 'clocktower-ca-key.pem'), '--dir', certs];
  for (const n of ['t1', 't2', 't3']) tls(['cert', 'create', '--server', '--node', n, ...caArgs]);
  tls(['cert', 'create', '--agent', ...caArgs]);
  tls(['cert', 'create', '--cli', ...caArgs]);
  const files = (name: string): Files => ({ ca: join(certs, 'clocktower-ca.pem'), cert: join(certs, `${name}.pem`), key: join(certs, `${name}-key.pem`) });
  const cli = files('dc1-cli-clocktower-0');
  const arms: Arm[] = [];
  try {
    const plainSpecs = await serverSpecs(join(root.path, 'plain'), ['p1', 'p2', 'p3']);
    const plainServers = await Promise.all(plainSpecs.map((s) => startServerProcess(s)));
    arms.push({
      name: 'plain', servers: plainServers, leader: null, http: new Agent({ connections: inFlight }), base: (s) => `http://${s.httpAddr}`,
      agent: await startAgentProcess('plain-agent', plainSpecs.map((s) => s.rpcAddr), { role: 'bench' }),
    });
    const tlsSpecs = await serverSpecs(join(root.path, 'tls'), ['t1', 't2', 't3']);
    const tlsServers = await Promise.all(tlsSpecs.map((s, i) => startServerProcess(s, tlsArgs(files(`dc1-server-clocktower-${i}`)))));
    arms.push({
      name: 'tls', servers: tlsServers, leader: null, base: (s) => `https://${s.httpAddr}`,
      http: new Agent({ connections: inFlight, connect: { ca: readFileSync(cli.ca), cert: readFileSync(cli.cert), key: readFileSync(cli.key), servername: 'server.dc1.clocktower' } }),
      agent: await startAgentProcess('tls-agent', tlsSpecs.map((s) => s.rpcAddr), { role: 'bench' }, tlsArgs(files('dc1-agent-clocktower-0'))),
    });
    const figures = { plain: { commits: [] as number[], executions: [] as number[] }, tls: { commits: [] as number[], executions: [] as number[] } };
    for (const arm of arms) {
      arm.leader = await leaderOf(arm);
      const leader = arm.leader;
      await poll(`the ${arm.name} agent to register`, async () => {
        const list = (await api(arm, leader, 'GET', '/v1/agents')).json;
        return Array.isArray(list) && list.some((a: { name?: string }) => a.name === `${arm.name}-agent`) ? true : undefined;
      });
    }
    for (let r = 0; r < rounds; r++) {
      for (const arm of arms) {
        const leader = arm.leader as ServerProcess;
        figures[arm.name].commits.push(await commitsPerSecond(arm, leader, r));
        figures[arm.name].executions.push(await executionsPerSecond(arm, leader, r));
      }
    }
    const m = (xs: number[]) => round(median(xs));
    return {
      bench: 'tls-cost',
      servers: 3,
      rounds,
      in_flight: inFlight,
      commits_per_s_plain: m(figures.plain.commits),
      commits_per_s_tls: m(figures.tls.commits),
      ratio_commits_tls_vs_plain: round(median(figures.tls.commits) / median(figures.plain.commits)),
      executions_per_s_plain: m(figures.plain.executions),
      executions_per_s_tls: m(figures.tls.executions),
      ratio_executions_tls_vs_plain: round(median(figures.tls.executions) / median(figures.plain.executions)),
      rounds_plain: figures.plain,
      rounds_tls: figures.tls,
    };
  } finally {
    for (const arm of arms) {
      await arm.agent.kill9().catch(() => {});
      await Promise.all(arm.servers.map((s) => s.kill9().catch(() => {})));
      await arm.http.close();
    }
    rmSync(root.path, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
