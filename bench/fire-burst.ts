// A burst of due jobs: N jobs (BENCH_BURST_JOBS, default 10,000) whose
// `@at` schedule falls on the same second, run by a no-op executor plugin
// (bench/fixtures/noop-executor.ts as `clocktower-executor-noop`), on a real
// 3-server cluster (`clocktower agent --server`, --bootstrap-expect 3) with
// one separate agent (`clocktower agent --join --tag role=burst
// --plugin-dir DIR`) that runs them all. Baseline in the same run: the same
// burst in `clocktower light` with the same plugin. Rounds alternate
// light / cluster (BENCH_BURST_ROUNDS, default 3); figures are medians.
//
// Measured from the scheduled second T, per round:
// - ran: when the plugin program ran each execution (it logs
//   "id job epoch-ms"; same machine, same clock) — "all started" is the last;
// - started_at: the execution record's start (the leader's fire time);
// - finished_at: the record's finish (the leader received the result);
// - committed: when the leader's API first counts all N jobs succeeded
//   (polled with `?stale`, so the poll costs no Raft read, every 10 ms or
//   ten times the count's own time if longer).
// With BENCH_BURST_ETCD=1 a third arm runs in the same rounds: two servers
// on `--store etcd` (a three-member etcd started here) with their own agent.
// BENCH_BURST_ARMS (e.g. "etcd" or "cluster,etcd") runs only those arms;
// ratios are given for the arms that ran.
// None doubled: every job has exactly one execution record and the plugin ran
// each execution id once; none lost: N records, all succeeded, N runs.

import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Agent, request } from 'undici';
import { startAgentProcess, type AgentProcess } from '../test/support/agent-process.js';
import { agreedLeader, serverSpecs, startServerProcess, type ServerProcess } from '../test/support/cluster-processes.js';
import { tempDir } from '../test/support/light-process.js';
import { startEtcdCluster, type EtcdCluster } from '../test/support/etcd-server.js';
import { api, startBenchServer, type BenchServer } from './light-server.js';
import { childPids } from './process-tree.js';
import { isMain, median, round, summarize } from './stats.js';

const jobs = Number(process.env['BENCH_BURST_JOBS'] ?? 10_000);
const rounds = Number(process.env['BENCH_BURST_ROUNDS'] ?? 3);
/** How far ahead of now the burst's second is set (default: from the time creating the jobs took). */
const leadMs = process.env['BENCH_BURST_LEAD_MS'] === undefined ? undefined : Number(process.env['BENCH_BURST_LEAD_MS']);
/** Extra flags for the agent (e.g. "--capacity 10000"), space-separated. */
const agentArgs = (process.env['BENCH_BURST_AGENT_ARGS'] ?? '').split(' ').filter((a) => a !== '');
const arms = new Set((process.env['BENCH_BURST_ARMS'] ?? `light,cluster${process.env['BENCH_BURST_ETCD'] === '1' ? ',etcd' : ''}`).split(',').map((a) => a.trim()).filter((a) => a !== ''));
for (const a of arms) if (!['light', 'cluster', 'etcd'].includes(a)) throw new Error(`bench: BENCH_BURST_ARMS: unknown arm ${a} (light, cluster, etcd)`);
const withEtcd = arms.has('etcd');
const noopJs = resolve('dist/bench/fixtures/noop-executor.js');
const restoreChunk = 2000;
const inFlight = 32;
const http = new Agent({ connections: inFlight });

interface ExecutionJson { id: string; started_at: string | null; finished_at: string | null; state: string }

interface BurstFigures {
  jobs: number;
  create_s: number;
  all_ran_s: number;
  all_started_at_s: number;
  all_finished_at_s: number;
  all_committed_s: number;
  fires_per_s: number;
  executions_per_s: number;
  ran_lateness_ms: ReturnType<typeof summarize>;
  started_at_lateness_ms: ReturnType<typeof summarize>;
  /** CPU time each process spent from T until all were committed, per execution. */
  cpu_ms_per_execution: Record<string, number>;
  /** Lines in the plugin's log (one per run). */
  runs_logged: number;
  doubled: number;
  lost: number;
}

function writeNoopPluginDir(dir: string, logPath: string): void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'clocktower-executor-noop');
  writeFileSync(path, `#!/bin/sh\nCLOCKTOWER_NOOP_LOG="${logPath}" exec "\${CLOCKTOWER_NODE:-node}" "${noopJs}" "$@"\n`);
  chmodSync(path, 0o755);
}

/** Polls until `probe` says done; fails once `progress` has not moved for `stallMs`. */
async function poll<T>(what: string, probe: () => Promise<T | undefined>, progress: () => number, stallMs: number, everyMs: number | (() => number)): Promise<T> {
  let last = progress();
  let deadline = Date.now() + stallMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    const now = progress();
    if (now !== last) {
      last = now;
      deadline = Date.now() + stallMs;
    } else if (Date.now() > deadline) {
      throw new Error(`bench: waiting for ${what}: stuck at ${now} for ${stallMs} ms`);
    }
    await new Promise((r) => setTimeout(r, typeof everyMs === 'number' ? everyMs : everyMs()));
  }
}

/** How many jobs matching `q` have this status (no job JSON is built: _end=0). */
async function countJobs(url: string, q: string, status: string): Promise<number> {
  const res = await request(`${url}/v1/jobs?q=${encodeURIComponent(q)}&status=${status}&_end=0&stale`, { dispatcher: http });
  await res.body.dump();
  if (res.statusCode !== 200) throw new Error(`bench: GET /v1/jobs: ${res.statusCode}`);
  return Number(res.headers['x-total-count']);
}

async function inParallel(count: number, one: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < count) await one(next++);
  }));
}

/** Reads a growing log from where the last read stopped (whole lines only). */
class LogTail {
  private offset: number;
  private partial = '';
  readonly lines: string[] = [];
  constructor(private readonly path: string) {
    this.offset = existsSync(path) ? statSync(path).size : 0;
  }

  read(): string[] {
    if (!existsSync(this.path)) return this.lines;
    const size = statSync(this.path).size;
    if (size <= this.offset) return this.lines;
    const buf = Buffer.alloc(size - this.offset);
    const fd = openSync(this.path, 'r');
    try {
      readSync(fd, buf, 0, buf.length, this.offset);
    } finally {
      closeSync(fd);
    }
    this.offset = size;
    const parts = (this.partial + buf.toString('utf8')).split('\n');
    this.partial = parts.pop() ?? '';
    this.lines.push(...parts.filter((l) => l !== ''));
    return this.lines;
  }
}

/** CPU time (user + system) a process has used, in ms (Linux /proc; clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}


/**
 * One burst: create the jobs due on second T (chosen `leadMs` ahead, long
 * enough to create them first), wait for T, then measure.
 */
async function burst(url: string, prefix: string, tags: Record<string, string>, logPath: string, leadMs: number, processesOf: () => Record<string, number>): Promise<BurstFigures> {
  const names = Array.from({ length: jobs }, (_, i) => `${prefix}${i}`);
  const log = new LogTail(logPath);
  const T = Math.ceil((Date.now() + leadMs) / 1000) * 1000;
  const schedule = `@at ${new Date(T).toISOString().replace('.000Z', 'Z')}`;
  const createStart = performance.now();
  for (let at = 0; at < jobs; at += restoreChunk) {
    await api(url, 'POST', '/v1/restore', names.slice(at, at + restoreChunk).map((name) => ({
      name, schedule, executor: 'noop', executor_config: {}, tags,
    })));
  }
  const createS = (performance.now() - createStart) / 1000;
  if (Date.now() > T - 200) throw new Error(`bench: creating ${jobs} jobs took ${round(createS)} s, past their fire time; raise BENCH_BURST_LEAD_MS`);

  await new Promise((r) => setTimeout(r, T - 100 - Date.now()));
  const processes = processesOf();
  const cpuBefore = Object.fromEntries(Object.entries(processes).map(([k, pid]) => [k, cpuMs(pid)]));
  // The plugin's log first (costs the servers nothing), then the leader's count.
  // A run missing from the log counts as lost (below) rather than ending the benchmark.
  // A server may take a while before the first run of a big burst: the stall limit grows with N.
  const stallMs = 15_000 + jobs;
  const ran = await poll(`${jobs} runs in the plugin log`, () => Promise.resolve(log.read().length >= jobs ? log.lines : undefined), () => log.lines.length, stallMs, 10)
    .catch(() => log.lines);
  // Counting scans every job on the leader: poll no more often than ten times the count's own time, so it costs under 10%.
  let succeeded = 0;
  let countMs = 1;
  const committedAt = await poll(`${jobs} jobs to succeed`, async () => {
    const t0 = performance.now();
    succeeded = await countJobs(url, prefix, 'success');
    countMs = performance.now() - t0;
    return succeeded >= jobs ? Date.now() : undefined;
  }, () => succeeded, stallMs, () => Math.max(10, 10 * countMs));
  const cpu = Object.fromEntries(Object.entries(processes).map(([k, pid]) => [k, round((cpuMs(pid) - (cpuBefore[k] ?? 0)) / jobs, 3)]));

  const records: ExecutionJson[][] = new Array<ExecutionJson[]>(jobs);
  await inParallel(jobs, async (i) => {
    records[i] = (await api(url, 'GET', `/v1/jobs/${names[i] ?? ''}/executions?stale`)).json as ExecutionJson[];
  });
  let doubled = 0;
  let lost = 0;
  const startedAt: number[] = [];
  const finishedAt: number[] = [];
  for (const list of records) {
    if (list.length > 1) doubled += list.length - 1;
    const e = list[0];
    if (!e || e.state !== 'succeeded') lost++;
    if (e?.started_at) startedAt.push(Date.parse(e.started_at) - T);
    if (e?.finished_at) finishedAt.push(Date.parse(e.finished_at) - T);
  }
  const runsById = new Map<string, number>();
  const ranLateness: number[] = [];
  for (const line of ran) {
    const [id = '', , ms = ''] = line.split(' ');
    runsById.set(id, (runsById.get(id) ?? 0) + 1);
    ranLateness.push(Number(ms) - T);
  }
  for (const n of runsById.values()) if (n > 1) doubled += n - 1;
  lost += Math.max(0, jobs - runsById.size);

  const allRanS = maxOf(ranLateness) / 1000;
  const committedS = (committedAt - T) / 1000;
  return {
    jobs,
    create_s: round(createS),
    all_ran_s: round(allRanS, 3),
    all_started_at_s: round(maxOf(startedAt) / 1000, 3),
    all_finished_at_s: round(maxOf(finishedAt) / 1000, 3),
    all_committed_s: round(committedS, 3),
    fires_per_s: round(jobs / allRanS),
    executions_per_s: round(jobs / committedS),
    ran_lateness_ms: summarize(ranLateness),
    started_at_lateness_ms: summarize(startedAt),
    cpu_ms_per_execution: cpu,
    runs_logged: ran.length,
    doubled,
    lost,
  };
}

/** Math.max without spreading (100,000 arguments would overflow the stack). */
function maxOf(values: readonly number[]): number {
  return values.reduce((m, v) => Math.max(m, v), -Infinity);
}

function medianOf(list: readonly BurstFigures[], key: (f: BurstFigures) => number): number {
  return round(median(list.map(key)), 3);
}

function summary(list: readonly BurstFigures[]) {
  return {
    all_ran_s: medianOf(list, (f) => f.all_ran_s),
    all_committed_s: medianOf(list, (f) => f.all_committed_s),
    all_started_at_s: medianOf(list, (f) => f.all_started_at_s),
    all_finished_at_s: medianOf(list, (f) => f.all_finished_at_s),
    fires_per_s: medianOf(list, (f) => f.fires_per_s),
    executions_per_s: medianOf(list, (f) => f.executions_per_s),
    ran_lateness_ms: {
      p50: medianOf(list, (f) => f.ran_lateness_ms.p50), p99: medianOf(list, (f) => f.ran_lateness_ms.p99), max: medianOf(list, (f) => f.ran_lateness_ms.max),
    },
    started_at_lateness_ms: {
      p50: medianOf(list, (f) => f.started_at_lateness_ms.p50), p99: medianOf(list, (f) => f.started_at_lateness_ms.p99),
      max: medianOf(list, (f) => f.started_at_lateness_ms.max),
    },
    create_s: medianOf(list, (f) => f.create_s),
    cpu_ms_per_execution: Object.fromEntries(Object.keys(list[0]?.cpu_ms_per_execution ?? {}).map((k) => [k, medianOf(list, (f) => f.cpu_ms_per_execution[k] ?? Number.NaN)])),
    doubled: list.reduce((n, f) => n + f.doubled, 0),
    lost: list.reduce((n, f) => n + f.lost, 0),
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const root = tempDir('ct-bench-fire-burst-');
  const clusterLog = join(root.path, 'cluster-runs.log');
  const lightLog = join(root.path, 'light-runs.log');
  writeNoopPluginDir(join(root.path, 'plugins-cluster'), clusterLog);
  writeNoopPluginDir(join(root.path, 'plugins-light'), lightLog);
  const servers: ServerProcess[] = [];
  let agent: AgentProcess | undefined;
  let light: BenchServer | undefined;
  const perRound = { light: [] as BurstFigures[], cluster: [] as BurstFigures[], etcd: [] as BurstFigures[] };
  const etcdLog = join(root.path, 'etcd-runs.log');
  let etcd: EtcdCluster | undefined;
  const etcdServers: ServerProcess[] = [];
  let etcdAgent: AgentProcess | undefined;
  let etcdRound: ((r: number) => Promise<BurstFigures>) | null = null;
  // Long enough to create the jobs before their second: from the last round's creation time when there is one.
  const lead = (list: readonly BurstFigures[]) => leadMs ?? 2000 + 1500 * (list.at(-1)?.create_s ?? jobs * 0.00015);
  let clusterRound: ((r: number) => Promise<BurstFigures>) | null = null;
  let lightRound: ((r: number) => Promise<BurstFigures>) | null = null;
  try {
    if (arms.has('cluster')) {
      const specs = await serverSpecs(root.path, ['s1', 's2', 's3']);
      servers.push(...await Promise.all(specs.map((spec) => startServerProcess(spec))));
      const leader = await agreedLeader(servers);
      const clusterAgent = await startAgentProcess('burst-agent', specs.map((s) => s.rpcAddr), { role: 'burst' }, ['--plugin-dir', join(root.path, 'plugins-cluster'), ...agentArgs]);
      agent = clusterAgent;
      await clusterAgent.waitLog(/plugins: executor noop started/);
      const agentPid = clusterAgent.child.pid ?? 0;
      const clusterProcs = (): Record<string, number> => {
        const procs: Record<string, number> = { leader: leader.child.pid ?? 0, agent: agentPid, plugin: childPids(agentPid)[0] ?? 0 };
        servers.filter((s) => s !== leader).forEach((s, i) => { procs[`follower${i + 1}`] = s.child.pid ?? 0; });
        return procs;
      };
      clusterRound = (r) => burst(leader.url, `burst-cluster-r${r}-`, { role: 'burst' }, clusterLog, lead(perRound.cluster), clusterProcs);
    }
    if (arms.has('light')) {
      const lightServer = await startBenchServer(join(root.path, 'light'), ['--plugin-dir', join(root.path, 'plugins-light')]);
      light = lightServer;
      const lightPid = lightServer.pid;
      // The light node starts its plugin program at the first execution that needs it (the first round has no figure for it).
      const lightProcs = () => ({ light: lightPid, plugin: childPids(lightPid)[0] ?? 0 });
      lightRound = (r) => burst(lightServer.url, `burst-light-r${r}-`, {}, lightLog, lead(perRound.light), lightProcs);
    }
    if (withEtcd) {
      writeNoopPluginDir(join(root.path, 'plugins-etcd'), etcdLog);
      etcd = await startEtcdCluster(3);
      const etcdSpecs = (await serverSpecs(join(root.path, 'etcd-servers'), ['e1', 'e2'])).map((spec) => ({
        ...spec, args: ['--store', 'etcd', '--etcd-endpoints', (etcd as EtcdCluster).urls.join(','), '--etcd-prefix', '/bench-burst'],
      }));
      etcdServers.push(...await Promise.all(etcdSpecs.map((spec) => startServerProcess(spec))));
      const etcdLeader = await agreedLeader(etcdServers);
      etcdAgent = await startAgentProcess('burst-etcd-agent', etcdSpecs.map((s) => s.rpcAddr), { role: 'burst-etcd' }, ['--plugin-dir', join(root.path, 'plugins-etcd'), ...agentArgs]);
      await etcdAgent.waitLog(/plugins: executor noop started/);
      const etcdAgentPid = etcdAgent.child.pid ?? 0;
      const etcdProcs = (): Record<string, number> => {
        const procs: Record<string, number> = { leader: etcdLeader.child.pid ?? 0, agent: etcdAgentPid, plugin: childPids(etcdAgentPid)[0] ?? 0 };
        etcdServers.filter((s) => s !== etcdLeader).forEach((s, i) => { procs[`follower${i + 1}`] = s.child.pid ?? 0; });
        return procs;
      };
      etcdRound = (r) => burst(etcdLeader.url, `burst-etcd-r${r}-`, { role: 'burst-etcd' }, etcdLog, lead(perRound.etcd), etcdProcs);
    }
    for (let r = 0; r < rounds; r++) {
      if (lightRound) perRound.light.push(await lightRound(r));
      if (clusterRound) perRound.cluster.push(await clusterRound(r));
      if (etcdRound) perRound.etcd.push(await etcdRound(r));
    }
    const onEtcd = perRound.etcd.length > 0 ? summary(perRound.etcd) : null;
    const light_ = perRound.light.length > 0 ? summary(perRound.light) : null;
    const cluster = perRound.cluster.length > 0 ? summary(perRound.cluster) : null;
    const ratio = (a: ReturnType<typeof summary>, b: ReturnType<typeof summary>) => ({
      all_ran_s: round(a.all_ran_s / b.all_ran_s),
      all_committed_s: round(a.all_committed_s / b.all_committed_s),
      executions_per_s: round(a.executions_per_s / b.executions_per_s),
    });
    return {
      bench: 'fire-burst',
      jobs,
      rounds,
      arms: [...arms],
      servers: 3,
      agents: 1,
      executor: 'noop plugin',
      ...(cluster ? { cluster } : {}),
      ...(light_ ? { light: light_ } : {}),
      ...(cluster && light_ ? { ratio_cluster_vs_light: ratio(cluster, light_) } : {}),
      ...(onEtcd ? {
        etcd: onEtcd,
        ...(cluster ? { ratio_etcd_vs_cluster: ratio(onEtcd, cluster) } : {}),
        rounds_etcd: perRound.etcd,
      } : {}),
      ...(cluster ? { rounds_cluster: perRound.cluster } : {}),
      ...(light_ ? { rounds_light: perRound.light } : {}),
    };
  } catch (err) {
    // What the servers said is what explains a stall.
    for (const s of [...servers, ...etcdServers]) process.stderr.write(`--- ${s.name}: the last 30 lines of its log\n${s.log().split('\n').slice(-31).join('\n')}\n`);
    throw err;
  } finally {
    await agent?.stop();
    await etcdAgent?.stop();
    await Promise.all(etcdServers.map((s) => s.stop()));
    await etcd?.stop();
    // SIGTERM, so NODE_OPTIONS=--cpu-prof profiles get written.
    await light?.stop();
    await Promise.all(servers.map((s) => s.stop()));
    await http.close();
    rmSync(root.path, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
