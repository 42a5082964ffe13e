// What running an executor as a plugin program costs: the same trivial
// executor (writes a line, succeeds) called in-process (the baseline, as
// light mode's built-ins run) and through a plugin program over gRPC (as a
// discovered clocktower-executor-NAME runs). Figures: median latency of one
// execution at a time, executions per second with 32 in flight, and the
// time from spawn to a healthy plugin (what each discovered plugin costs at
// server start).

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Executor } from '../plugins/sdk/executor.js';
import { PluginExecutor } from '../plugins/sdk/plugin-executor.js';
import { isMain, median, round } from './stats.js';

const sequential = Number(process.env['BENCH_PLUGIN_SEQUENTIAL'] ?? 500);
const concurrent = Number(process.env['BENCH_PLUGIN_CONCURRENT'] ?? 5000);
const inFlight = 32;
const starts = 5;

const inProcess: Executor = {
  name: 'echo',
  execute(req, output) {
    output.write(Buffer.from(`${req.config['text'] ?? ''} (execution ${req.executionId}, pid ${process.pid})`));
    return Promise.resolve({ success: true, exitCode: 0, error: '' });
  },
};

async function measure(e: Executor): Promise<{ medianMs: number; perSecond: number }> {
  const once = async (i: number) => {
    const r = await e.execute({ jobName: 'bench', config: { text: 'hello' }, executionId: String(i), scheduledAtMs: 0, attempt: 1 }, { write: () => {} }, new AbortController().signal);
    if (!r.success) throw new Error(`execution failed: ${r.error}`);
  };
  const latencies: number[] = [];
  for (let i = 0; i < sequential; i++) {
    const t0 = performance.now();
    await once(i);
    latencies.push(performance.now() - t0);
  }
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < concurrent) await once(next++);
  }));
  return { medianMs: median(latencies), perSecond: concurrent / ((performance.now() - start) / 1000) };
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'ct-bench-plugin-'));
  const program = join(dir, 'clocktower-executor-echo');
  const fixture = fileURLToPath(new URL('../test/plugins/fixtures/fixture-plugin.js', import.meta.url));
  writeFileSync(program, `#!/bin/sh\nexec "${process.execPath}" "${fixture}"\n`);
  chmodSync(program, 0o755);
  try {
    const startMs: number[] = [];
    for (let i = 0; i < starts; i++) {
      const p = new PluginExecutor('echo', program);
      const t0 = performance.now();
      await p.start();
      startMs.push(performance.now() - t0);
      await p.close();
    }
    const baseline = await measure(inProcess);
    const plugin = new PluginExecutor('echo', program);
    let viaPlugin;
    try {
      await plugin.start();
      viaPlugin = await measure(plugin);
    } finally {
      await plugin.close();
    }
    return {
      bench: 'plugin-executor',
      sequential_executions: sequential,
      concurrent_executions: concurrent,
      in_flight: inFlight,
      in_process_median_ms: round(baseline.medianMs, 4),
      plugin_median_ms: round(viaPlugin.medianMs, 3),
      in_process_per_second: Math.round(baseline.perSecond),
      plugin_per_second: Math.round(viaPlugin.perSecond),
      plugin_to_in_process_throughput_ratio: round(viaPlugin.perSecond / baseline.perSecond, 4),
      plugin_start_median_ms: round(median(startMs), 1),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
