// What a processor costs per execution (4 KiB of output): the files
// processor in-process (the baseline), the same processor as a plugin
// program over gRPC, and syslog (UDP) and fluent (TCP) in-process to local
// listeners. Per variant: the median latency of one call (sequential), and
// calls per second with 32 in flight.

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FilesProcessor } from '../plugins/processors/files/files-processor.js';
import { FluentProcessor } from '../plugins/processors/fluent/fluent-processor.js';
import { SyslogProcessor } from '../plugins/processors/syslog/syslog-processor.js';
import { PluginProcessor } from '../plugins/sdk/plugin-processor.js';
import type { ExecutionRecord, Processor } from '../plugins/sdk/processor.js';
import { fluentForward, udpSyslog } from '../test/support/log-receivers.js';
import { isMain, median, round } from './stats.js';

const calls = Number(process.env['BENCH_PROCESSOR_CALLS'] ?? 1000);
const inFlight = 32;

function execution(i: number): ExecutionRecord {
  return {
    id: String(i), jobName: 'bench', startedAtMs: 1_000, finishedAtMs: 2_000, success: true,
    output: Buffer.from(`${'x'.repeat(63)}\n`.repeat(64)), nodeName: 'node1', attempt: 1, group: String(i), scheduledAtMs: 1_000,
  };
}

async function measure(p: Processor, config: Record<string, string>): Promise<{ medianMs: number; perSecond: number }> {
  for (let i = 0; i < 50; i++) await p.process(execution(i), config, new AbortController().signal); // warm up
  const latencies: number[] = [];
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    await p.process(execution(i), config, new AbortController().signal);
    latencies.push(performance.now() - start);
  }
  const start = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < calls) await p.process(execution(next++), config, new AbortController().signal);
  }));
  return { medianMs: round(median(latencies), 3), perSecond: Math.round(calls / ((performance.now() - start) / 1000)) };
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'ct-bench-processors-'));
  const wrapper = join(dir, 'clocktower-processor-files');
  writeFileSync(wrapper, `#!/bin/sh\nexec "${process.execPath}" "${resolve('dist/plugins/processors/files/main.js')}" "$@"\n`);
  chmodSync(wrapper, 0o755);
  const plugin = new PluginProcessor('files', wrapper);
  const syslog = await udpSyslog();
  const fluent = await fluentForward();
  try {
    const filesConfig = { log_dir: join(dir, 'logs') };
    const inProcess = await measure(new FilesProcessor(), filesConfig);
    const viaPlugin = await measure(plugin, filesConfig);
    const syslogUdp = await measure(new SyslogProcessor(), { url: `udp://127.0.0.1:${syslog.port}` });
    const fluentTcp = await measure(new FluentProcessor(), { port: String(fluent.port) });
    return {
      bench: 'processors',
      calls,
      inFlight,
      outputBytes: 4096,
      filesInProcess: inProcess,
      filesPlugin: viaPlugin,
      syslogUdpInProcess: syslogUdp,
      fluentTcpInProcess: fluentTcp,
      pluginLatencyRatio: round(viaPlugin.medianMs / inProcess.medianMs),
      pluginThroughputRatio: round(viaPlugin.perSecond / inProcess.perSecond),
    };
  } finally {
    await plugin.close();
    await syslog.close();
    await fluent.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
