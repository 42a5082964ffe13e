// The kafka executor against the Kafka wire-protocol test server: messages
// per second as executions through the warm plugin program (PluginExecutor),
// and in-process (KafkaExecutor), against the raw kafkajs producer sending the
// same messages (acks=-1, one message per send) in the same run. A no-op
// plugin (the test fixture) shows what the plugin protocol alone costs. Each
// figure is the median of BENCH_KAFKA_ROUNDS rounds of BENCH_KAFKA_MESSAGES
// messages, one at a time and with 16 in flight.

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaExecutor } from '../plugins/executors/kafka/kafka-executor.js';
import type { Executor } from '../plugins/sdk/executor.js';
import { PluginExecutor } from '../plugins/sdk/plugin-executor.js';
import { KafkaWireServer } from '../test/support/kafka-wire-server.js';
import { isMain, median, round } from './stats.js';

const messages = Number(process.env['BENCH_KAFKA_MESSAGES'] ?? 500);
const rounds = Number(process.env['BENCH_KAFKA_ROUNDS'] ?? 5);
const concurrencies = [1, 16];
const topic = 'bench';

/** Messages per second for `messages` calls of `send`, `inFlight` at a time. */
async function rate(inFlight: number, send: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < messages) await send(next++);
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return messages / ((performance.now() - start) / 1000);
}

function script(dir: string, name: string, compiled: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\nexec "${process.execPath}" "${fileURLToPath(new URL(compiled, import.meta.url))}" "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}

function viaExecutor(executor: Executor, brokerAddress: string): (i: number) => Promise<void> {
  const sink = { write: () => {} };
  return async (i) => {
    const signal = new AbortController().signal;
    const config = { brokerAddress, topic, key: `key-${i % 64}`, message: `message ${i}` };
    const r = await executor.execute({ jobName: 'bench', config, executionId: String(i), scheduledAtMs: 0, attempt: 1 }, sink, signal);
    if (!r.success) throw new Error(`execution failed: ${r.error}`);
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const server = await KafkaWireServer.start({ topics: { [topic]: 1 } });
  const dir = mkdtempSync(join(tmpdir(), 'ct-bench-kafka-'));
  const producer = new Kafka({ clientId: 'bench', brokers: [server.address], logLevel: logLevel.NOTHING }).producer({ allowAutoTopicCreation: false });
  const plugin = new PluginExecutor('kafka', script(dir, 'clocktower-executor-kafka', '../plugins/executors/kafka/main.js'));
  const noop = new PluginExecutor('fixture', script(dir, 'clocktower-executor-fixture', '../test/plugins/fixtures/fixture-plugin.js'));
  const inProcess = new KafkaExecutor();
  try {
    await producer.connect();
    const raw = async (i: number) => {
      await producer.send({ topic, acks: -1, messages: [{ key: `key-${i % 64}`, value: `message ${i}` }] });
    };
    const runners: Record<string, (i: number) => Promise<void>> = {
      raw_kafkajs: raw,
      plugin: viaExecutor(plugin, server.address),
      in_process: viaExecutor(inProcess, server.address),
      noop_plugin: viaExecutor(noop, server.address),
    };
    // Warm up every path (plugin process started, connections open, JIT).
    for (const send of Object.values(runners)) for (let i = 0; i < 50; i++) await send(i);

    const figures: Record<string, unknown> = {};
    for (const inFlight of concurrencies) {
      const samples: Record<string, number[]> = {};
      for (let r = 0; r < rounds; r++) {
        // Interleaved, so drift in the machine's load touches every path alike.
        for (const [name, send] of Object.entries(runners)) (samples[name] ??= []).push(await rate(inFlight, send));
      }
      const med = Object.fromEntries(Object.entries(samples).map(([name, s]) => [name, median(s)]));
      for (const [name, m] of Object.entries(med)) figures[`${name}_msgs_per_s_inflight_${inFlight}`] = round(m);
      figures[`plugin_vs_raw_ratio_inflight_${inFlight}`] = round((med['plugin'] ?? 0) / (med['raw_kafkajs'] ?? 1), 3);
      figures[`in_process_vs_raw_ratio_inflight_${inFlight}`] = round((med['in_process'] ?? 0) / (med['raw_kafkajs'] ?? 1), 3);
    }
    return { bench: 'executors-kafka', messages_per_round: messages, rounds, stored: server.records(topic).length, ...figures };
  } finally {
    await producer.disconnect();
    await plugin.close();
    await noop.close();
    await inProcess.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
