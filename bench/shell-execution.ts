// Where one shell execution's time goes on an agent, without the cluster:
// the same `true` run, in turns so drifting load weighs on each the same,
// 1. as a raw `spawn('true')` awaited (the baseline);
// 2. through execa with the options the shell executor used to pass
//    (detached, merged output, no buffering), for reference;
// 3. through ShellExecutor in this process (light mode's built-in shell),
//    with a cgroup per execution where the machine offers one, and with
//    the process group alone (the cost of the cgroup);
// 4. through PluginExecutor and the clocktower-executor-shell plugin
//    program (what an agent with the plugin does: gRPC over a unix socket,
//    the spawn in the plugin process), with one copy of the program and
//    with two (what a node runs: see bin/node-plugins.ts).
// Latency p50/p99 of one execution at a time, and executions per second
// with 32 in flight, each as a ratio to the raw spawn of the same run.

import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { ShellExecutor } from '../plugins/executors/shell/shell-executor.js';
import type { Executor } from '../plugins/sdk/executor.js';
import { PluginExecutor } from '../plugins/sdk/plugin-executor.js';
import { isMain, round, summarize } from './stats.js';

const samples = Number(process.env['BENCH_SHELL_SAMPLES'] ?? 500);
const total = Number(process.env['BENCH_SHELL_EXECUTIONS'] ?? 2000);
const inFlight = 32;
const shellPluginJs = resolve('dist/plugins/executors/shell/main.js');

type One = () => Promise<void>;

function rawSpawn(): Promise<void> {
  return new Promise<void>((res, rej) => {
    const child = spawn('true', { stdio: 'ignore' });
    child.once('error', rej);
    child.once('exit', () => res());
  });
}

async function viaExeca(): Promise<void> {
  const sub = execa('true', [], {
    env: { ENV_JOB_NAME: 'bench' }, extendEnv: true, detached: true, cleanup: true, buffer: false, all: true,
    reject: false, stripFinalNewline: false, stdin: 'ignore',
  });
  sub.all?.on('data', () => {});
  await sub;
}

function viaExecutor(e: Executor): One {
  let n = 0;
  return async () => {
    const r = await e.execute({ jobName: 'bench', config: { command: 'true' }, executionId: String(n++), scheduledAtMs: 0, attempt: 1 },
      { write: () => {} }, new AbortController().signal);
    if (!r.success) throw new Error(`bench: the execution failed: ${r.error}`);
  };
}

async function timed(one: One): Promise<number> {
  const t0 = performance.now();
  await one();
  return performance.now() - t0;
}

async function perSecond(one: One): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next++ < total) await one();
  }));
  return total / ((performance.now() - start) / 1000);
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'ct-bench-shell-'));
  const program = join(dir, 'clocktower-executor-shell');
  writeFileSync(program, `#!/bin/sh\nexec "${process.execPath}" "${shellPluginJs}" "$@"\n`);
  chmodSync(program, 0o755);
  const plugin = new PluginExecutor('shell', program);
  const plugin2 = new PluginExecutor('shell', program, { instances: 2 });
  try {
    await Promise.all([plugin.start(), plugin2.start()]);
    const contained = new ShellExecutor();
    const kinds: Record<string, One> = {
      raw: rawSpawn, execa: viaExeca, inProcess: viaExecutor(contained), groupOnly: viaExecutor(new ShellExecutor({ cgroups: false })),
      plugin: viaExecutor(plugin), plugin2: viaExecutor(plugin2),
    };
    for (const one of Object.values(kinds)) for (let i = 0; i < 20; i++) await one(); // warm up
    const lat: Record<string, number[]> = { raw: [], execa: [], inProcess: [], groupOnly: [], plugin: [], plugin2: [] };
    for (let i = 0; i < samples; i++) for (const [k, one] of Object.entries(kinds)) lat[k]?.push(await timed(one));
    const s = Object.fromEntries(Object.entries(lat).map(([k, v]) => [k, summarize(v)]));
    const rate: Record<string, number> = {};
    for (const [k, one] of Object.entries(kinds)) rate[k] = await perSecond(one);
    const r = (k: string) => s[k] ?? summarize([]);
    const ps = (k: string) => rate[k] ?? Number.NaN;
    const vsRaw = (k: string) => ({ p50: round(r(k).p50 / r('raw').p50), p99: round(r(k).p99 / r('raw').p99), per_s: round(ps(k) / ps('raw')) });
    return {
      bench: 'shell-execution',
      latency_samples: samples,
      executions_for_throughput: total,
      in_flight: inFlight,
      raw_spawn: { p50_ms: r('raw').p50, p99_ms: r('raw').p99, per_s: Math.round(ps('raw')) },
      execa: { p50_ms: r('execa').p50, p99_ms: r('execa').p99, per_s: Math.round(ps('execa')) },
      shell_in_process: { containment: contained.containment, p50_ms: r('inProcess').p50, p99_ms: r('inProcess').p99, per_s: Math.round(ps('inProcess')) },
      shell_in_process_group_only: { p50_ms: r('groupOnly').p50, p99_ms: r('groupOnly').p99, per_s: Math.round(ps('groupOnly')) },
      shell_plugin: { p50_ms: r('plugin').p50, p99_ms: r('plugin').p99, per_s: Math.round(ps('plugin')) },
      shell_plugin_2_copies: { p50_ms: r('plugin2').p50, p99_ms: r('plugin2').p99, per_s: Math.round(ps('plugin2')) },
      ratio_execa_vs_raw: vsRaw('execa'),
      ratio_shell_in_process_vs_raw: vsRaw('inProcess'),
      ratio_shell_group_only_vs_raw: vsRaw('groupOnly'),
      ratio_shell_plugin_vs_raw: vsRaw('plugin'),
      ratio_shell_plugin_2_copies_vs_raw: vsRaw('plugin2'),
    };
  } finally {
    await Promise.all([plugin.close(), plugin2.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
