// Agents on a real 3-server cluster (three `clocktower agent --server`
// processes, --bootstrap-expect 3) with separate `clocktower agent --join`
// processes whose shell executor is a plugin program: a
// `clocktower-executor-shell` wrapper in their --plugin-dir replaces the
// in-process one. Jobs are tagged for the agent; runs are requested over the
// leader's API. Three figures, each against a baseline of the same run:
// 1. executions per second of `true` (32 requests in flight, counted when
//    their results are committed) vs `clocktower light` (in-process shell);
//    an agent with the built-in shell is measured too, to show what the
//    plugin hop costs on its own;
// 2. the latency of ONE execution, runs one after another, vs a raw
//    `spawn('true')` awaited in this process:
//    - request -> result committed: POST /run until the job's count moves
//      (polled every millisecond on the leader, `?stale`), timed here (performance.now);
//    - started_at -> finished_at of the execution record: from the leader
//      committing the fire to the agent seeing the process exit (whole
//      milliseconds; both clocks are this machine's);
// 3. the RSS (/proc/PID/status VmRSS) of a fresh agent idle, and with 1,000
//    `sleep` executions running at once (its default --capacity), and of its
//    shell plugin programs (summed over the copies it runs); the executions
//    are stopped over the API afterwards.

import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startAgentProcess, type AgentProcess } from '../test/support/agent-process.js';
import { agreedLeader, serverSpecs, startServerProcess, type ServerProcess } from '../test/support/cluster-processes.js';
import { tempDir } from '../test/support/light-process.js';
import { api, rssMb, startBenchServer, type BenchServer } from './light-server.js';
import { childPids } from './process-tree.js';
import { isMain, median, round, summarize } from './stats.js';

const total = Number(process.env['BENCH_EXECUTIONS'] ?? 1000);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);
const samples = Number(process.env['BENCH_LATENCY_SAMPLES'] ?? 300);
const running = Number(process.env['BENCH_RUNNING'] ?? 1000);
const inFlight = 32;
const jobs = 50;
const shellPluginJs = resolve('dist/plugins/executors/shell/main.js');

interface Job { name: string; success_count: number; error_count: number }
interface AgentJson { name: string; running: number; queued: number }
interface BusyJson { id: string; job_name: string; node_name: string }
interface ExecutionJson { started_at: string | null; finished_at: string | null; state: string }

async function poll<T>(what: string, probe: () => Promise<T | undefined>, ms: number, everyMs = 20): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`bench: timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => (everyMs > 0 ? setTimeout(r, everyMs) : setImmediate(r)));
  }
}

/** Runs `count` requests, `inFlight` at a time. */
async function inParallel(count: number, one: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < count) await one(next++);
  }));
}

function writeShellPluginDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'clocktower-executor-shell');
  writeFileSync(path, `#!/bin/sh\nexec "\${CLOCKTOWER_NODE:-node}" "${shellPluginJs}" "$@"\n`);
  chmodSync(path, 0o755);
}


/** The agent's shell plugin programs (it may run more than one copy). */
function shellPluginPids(agentPid: number): number[] {
  const pids = childPids(agentPid).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(shellPluginJs);
    } catch {
      return false;
    }
  });
  if (pids.length === 0) throw new Error('bench: the agent has no shell plugin program running');
  return pids;
}

async function createJobs(url: string, names: readonly string[], command: string, tags: Record<string, string>): Promise<void> {
  await api(url, 'POST', '/v1/restore', names.map((name) => ({
    name, schedule: '@manually', executor: 'shell', executor_config: { command }, tags,
  })));
}

/** `total` manual runs of `true`; executions per second until all results are committed. */
async function throughput(url: string, prefix: string, tags: Record<string, string>): Promise<number> {
  const names = Array.from({ length: jobs }, (_, i) => `${prefix}-${i}`);
  await createJobs(url, names, 'true', tags);
  const finished = async () => {
    const list = (await api(url, 'GET', `/v1/jobs?q=${prefix}-&_end=${jobs}`)).json as Job[];
    return list.reduce((n, j) => n + j.success_count + j.error_count, 0);
  };
  const start = performance.now();
  await inParallel(total, (i) => api(url, 'POST', `/v1/jobs/${names[i % jobs] ?? ''}/run`));
  const done = await poll('the results to be committed', async () => {
    const n = await finished();
    return n >= total ? n : undefined;
  }, 120_000);
  return done / ((performance.now() - start) / 1000);
}

/** One run, timed from the request until its result is committed (the job's count moved). */
async function oneRun(url: string, name: string, before: number): Promise<number> {
  const start = performance.now();
  await api(url, 'POST', `/v1/jobs/${name}/run`);
  // The leader's own state (`?stale`: no ReadIndex round per poll), every millisecond:
  // a poll that made each server answer a heartbeat round, as fast as it could, slowed what it measured.
  await poll('one result', async () => {
    const j = (await api(url, 'GET', `/v1/jobs/${name}?stale`)).json as Job;
    return j.success_count + j.error_count > before ? true : undefined;
  }, 30_000, 1);
  return performance.now() - start;
}

async function rawSpawn(): Promise<number> {
  const start = performance.now();
  await new Promise<void>((res, rej) => {
    const child = spawn('true', { stdio: 'ignore' });
    child.once('error', rej);
    child.once('exit', () => res());
  });
  return performance.now() - start;
}

async function latency(clusterUrl: string, lightUrl: string, tags: Record<string, string>) {
  await createJobs(clusterUrl, ['latency'], 'true', tags);
  await createJobs(lightUrl, ['latency'], 'true', {});
  const raw: number[] = [];
  const cluster: number[] = [];
  const light: number[] = [];
  // In turns, so drifting load weighs on each the same.
  for (let i = 0; i < samples; i++) {
    raw.push(await rawSpawn());
    cluster.push(await oneRun(clusterUrl, 'latency', i));
    light.push(await oneRun(lightUrl, 'latency', i));
  }
  const records = (await api(clusterUrl, 'GET', `/v1/jobs/latency/executions?_end=${samples}`)).json as ExecutionJson[];
  const recorded = records
    .filter((e) => e.state === 'succeeded' && e.started_at && e.finished_at)
    .map((e) => Date.parse(e.finished_at as string) - Date.parse(e.started_at as string));
  if (recorded.length !== samples) throw new Error(`bench: ${samples - recorded.length} latency runs did not succeed`);
  return { raw: summarize(raw), cluster: summarize(cluster), light: summarize(light), recorded: summarize(recorded) };
}

/** A fresh agent, idle, then with `running` sleeps at once; its RSS and its shell plugin's. */
async function memory(leaderUrl: string, join: readonly string[], pluginDir: string, started: AgentProcess[]) {
  const tags = { role: 'bench-memory' };
  const agent = await startAgentProcess('bench-memory', join, tags, ['--plugin-dir', pluginDir]);
  started.push(agent);
  await agent.waitLog(/plugins: executor shell started/);
  const agentPid = agent.child.pid ?? 0;
  const pluginPids = shellPluginPids(agentPid);
  const pluginsRss = () => pluginPids.reduce((mb, pid) => mb + rssMb(pid), 0);
  const sleepPids = () => pluginPids.flatMap((pid) => childPids(pid));
  const idle = { agent: rssMb(agentPid), plugin: pluginsRss() };

  const names = Array.from({ length: 10 }, (_, i) => `sleep-${i}`);
  await createJobs(leaderUrl, names, 'sleep 300', tags);
  const agentLoad = async () => ((await api(leaderUrl, 'GET', '/v1/agents')).json as AgentJson[]).find((a) => a.name === agent.name);
  const start = performance.now();
  await inParallel(running, (i) => api(leaderUrl, 'POST', `/v1/jobs/${names[i % names.length] ?? ''}/run`));
  // Every sleep spawned (seen in /proc), and the agent reporting them all
  // running (its heartbeat, every few seconds).
  await poll(`${running} sleep processes`, () => Promise.resolve(sleepPids().length >= running ? true : undefined), 120_000);
  const toRunningS = (performance.now() - start) / 1000;
  await poll(`the agent to report ${running} running`, async () => ((await agentLoad())?.running === running ? true : undefined), 60_000);
  const sleeps = sleepPids();
  const busy = { agent: rssMb(agentPid), plugin: pluginsRss() };

  // Stop them the way a user would; the agent kills each process group.
  const list = ((await api(leaderUrl, 'GET', '/v1/busy')).json as BusyJson[]).filter((e) => e.node_name === agent.name);
  await inParallel(list.length, (i) => {
    const e = list[i] as BusyJson;
    return api(leaderUrl, 'POST', `/v1/jobs/${e.job_name}/executions/${e.id}/stop`);
  });
  await poll('the executions to stop', async () => {
    const a = await agentLoad();
    return a?.running === 0 && a.queued === 0 && sleepPids().length === 0 ? true : undefined;
  }, 60_000);
  const after = { agent: rssMb(agentPid), plugin: pluginsRss() };
  return { idle, busy, after, sleeps, toRunningS, stopped: list.length, plugins: pluginPids.length };
}

/** Kill, by process group, what the agents' plugin programs still run (after a failed run). */
function killLeftovers(agents: readonly AgentProcess[]): void {
  for (const a of agents) {
    for (const plugin of childPids(a.child.pid ?? 0)) {
      for (const pid of childPids(plugin)) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const root = tempDir('ct-bench-agents-cluster-');
  const pluginDir = join(root.path, 'plugins');
  writeShellPluginDir(pluginDir);
  const history = ['--history-limit', String(Math.max(samples, Math.ceil(total / jobs)) + 10)];
  const servers: ServerProcess[] = [];
  const agents: AgentProcess[] = [];
  let light: BenchServer | undefined;
  const perS = { light: [] as number[], plugin: [] as number[], builtin: [] as number[] };
  try {
    const specs = await serverSpecs(root.path, ['s1', 's2', 's3']);
    servers.push(...await Promise.all(specs.map((spec) => startServerProcess(spec, history))));
    const leader = await agreedLeader(servers);
    const joins = specs.map((s) => s.rpcAddr);
    agents.push(await startAgentProcess('bench-plugin', joins, { role: 'bench' }, ['--plugin-dir', pluginDir]));
    agents.push(await startAgentProcess('bench-builtin', joins, { role: 'bench-builtin' }));
    await agents[0]?.waitLog(/plugins: executor shell started/);
    light = await startBenchServer(join(root.path, 'light'), history);

    for (let r = 0; r < rounds; r++) {
      perS.light.push(await throughput(light.url, `light-${r}`, {}));
      perS.plugin.push(await throughput(leader.url, `plugin-${r}`, { role: 'bench' }));
      perS.builtin.push(await throughput(leader.url, `builtin-${r}`, { role: 'bench-builtin' }));
    }
    const lat = await latency(leader.url, light.url, { role: 'bench' });
    const mem = await memory(leader.url, joins, pluginDir, agents);

    const m = { light: median(perS.light), plugin: median(perS.plugin), builtin: median(perS.builtin) };
    return {
      bench: 'agents-cluster',
      servers: 3,
      executions_per_round: total,
      rounds,
      requests_in_flight: inFlight,
      light_per_s: round(m.light),
      cluster_plugin_agent_per_s: round(m.plugin),
      cluster_builtin_agent_per_s: round(m.builtin),
      ratio_plugin_agent_vs_light: round(m.plugin / m.light),
      ratio_plugin_vs_builtin_agent: round(m.plugin / m.builtin),
      latency_samples: samples,
      raw_spawn_ms: { p50: lat.raw.p50, p99: lat.raw.p99 },
      cluster_request_to_committed_ms: { p50: lat.cluster.p50, p99: lat.cluster.p99 },
      cluster_started_to_finished_ms: { p50: lat.recorded.p50, p99: lat.recorded.p99 },
      light_request_to_committed_ms: { p50: lat.light.p50, p99: lat.light.p99 },
      ratio_request_to_committed_vs_raw_spawn: { p50: round(lat.cluster.p50 / lat.raw.p50), p99: round(lat.cluster.p99 / lat.raw.p99) },
      ratio_started_to_finished_vs_raw_spawn: { p50: round(lat.recorded.p50 / lat.raw.p50), p99: round(lat.recorded.p99 / lat.raw.p99) },
      executions_running: running,
      sleep_processes_seen: mem.sleeps.length,
      executions_stopped_over_api: mem.stopped,
      seconds_to_all_sleeps_spawned: round(mem.toRunningS),
      agent_rss_mb: { idle: round(mem.idle.agent), running: round(mem.busy.agent), after_stop: round(mem.after.agent) },
      shell_plugin_programs: mem.plugins,
      shell_plugin_rss_mb: { idle: round(mem.idle.plugin), running: round(mem.busy.plugin), after_stop: round(mem.after.plugin) },
      agent_rss_kb_per_running_execution: round(((mem.busy.agent - mem.idle.agent) * 1024) / running),
      ratio_agent_rss_running_vs_idle: round(mem.busy.agent / mem.idle.agent),
    };
  } finally {
    killLeftovers(agents);
    for (const a of agents) await a.stop();
    await light?.kill9();
    await Promise.all(servers.map((s) => s.kill9()));
    rmSync(root.path, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
