// Messages per second through the grpc and pubsub executors as plugin
// programs (warm, through the host launcher PluginExecutor), against the raw
// client library sending the same messages in the same run: grpc-js calling
// test.Echo/Say on a local server with reflection (the executor finds the
// method by reflection once, then from its cache), and @google-cloud/pubsub
// publishing to the local Publisher test server with the executor's batching
// settings. The executor classes run in-process too, to tell the cost of the
// executor from the cost of the plugin hop. Each figure is the median of `rounds` rounds of `perRound`
// messages, with 1 and with 16 executions in flight.

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PubSub } from '@google-cloud/pubsub';
import { GrpcExecutor } from '../plugins/executors/grpc/grpc-executor.js';
import { PubSubExecutor } from '../plugins/executors/pubsub/pubsub-executor.js';
import type { Executor } from '../plugins/sdk/executor.js';
import { PluginExecutor } from '../plugins/sdk/plugin-executor.js';
import { echoProtoPath, startEchoServer } from '../test/support/grpc-test-servers.js';
import { startPubSubServer } from '../test/support/pubsub-test-server.js';
import { isMain, median, round } from './stats.js';

const perRound = Number(process.env['BENCH_EXECUTOR_MESSAGES'] ?? 500);
const rounds = 5;
const concurrencies = [1, 16];

/**
 * Messages per second for each sender, doing `send` `perRound` times with
 * `inFlight` at once; the median of `rounds` rounds. The senders take turns
 * round by round, so a change in the machine's load hits them alike.
 */
async function rates(inFlight: number, senders: Record<string, (i: number) => Promise<void>>): Promise<Record<string, number>> {
  for (const send of Object.values(senders)) await send(-1); // warm up
  const results: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const [name, send] of Object.entries(senders)) {
      let next = 0;
      const start = performance.now();
      await Promise.all(Array.from({ length: inFlight }, async () => {
        while (next < perRound) await send(next++);
      }));
      (results[name] ??= []).push(perRound / ((performance.now() - start) / 1000));
    }
  }
  return Object.fromEntries(Object.entries(results).map(([name, values]) => [`${name}_${inFlight}_in_flight_per_s`, round(median(values))]));
}

function pluginProgram(dir: string, name: string, env = ''): string {
  const path = join(dir, `clocktower-executor-${name}`);
  const main = fileURLToPath(new URL(`../plugins/executors/${name}/main.js`, import.meta.url));
  writeFileSync(path, `#!/bin/sh\n${env}exec "${process.execPath}" "${main}" "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}

async function viaExecutor(plugin: Executor, config: (i: number) => Record<string, string>): Promise<(i: number) => Promise<void>> {
  return async (i) => {
    const r = await plugin.execute({ jobName: 'bench', config: config(i), executionId: String(i), scheduledAtMs: 0, attempt: 1 }, { write() {} }, new AbortController().signal);
    if (!r.success) throw new Error(`execution failed: ${r.error}`);
  };
}

async function grpcFigures(dir: string): Promise<Record<string, number>> {
  const server = await startEchoServer({ reflection: true });
  const plugin = new PluginExecutor('grpc', pluginProgram(dir, 'grpc'));
  const inProcess = new GrpcExecutor();
  const def = protoLoader.loadSync(echoProtoPath, { keepCase: true, longs: String, enums: String });
  const Echo = (grpc.loadPackageDefinition(def) as unknown as { test: { Echo: grpc.ServiceClientConstructor } }).test.Echo;
  const raw = new Echo(server.address, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Say: (req: object, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: Error | null) => void) => void };
  try {
    const out: Record<string, number> = {};
    for (const n of concurrencies) {
      const config = (i: number) => ({ url: `${server.address}/test.Echo/Say`, body: `{"text":"message ${i}"}`, timeout: '10' });
      Object.assign(out, await rates(n, {
        grpc_plugin: await viaExecutor(plugin, config),
        grpc_in_process: await viaExecutor(inProcess, config),
        grpc_raw: (i) => new Promise<void>((resolve, reject) => {
          raw.Say({ text: `message ${i}` }, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err) => (err ? reject(err) : resolve()));
        }),
      }));
    }
    return out;
  } finally {
    raw.close();
    await inProcess.close();
    await plugin.close();
    await server.close();
  }
}

async function pubsubFigures(dir: string): Promise<Record<string, number>> {
  const server = await startPubSubServer();
  server.createTopic('projects/bench/topics/plugin');
  server.createTopic('projects/bench/topics/raw');
  const plugin = new PluginExecutor('pubsub', pluginProgram(dir, 'pubsub', `PUBSUB_EMULATOR_HOST=${server.address} `));
  const inProcess = new PubSubExecutor();
  const client = new PubSub({ projectId: 'bench', apiEndpoint: server.address, emulatorMode: true, universeDomain: 'googleapis.com' });
  const topic = client.topic('raw', { batching: { maxMilliseconds: 1 }, gaxOpts: { timeout: 15_000 } });
  try {
    const out: Record<string, number> = {};
    for (const n of concurrencies) {
      const config = (i: number) => ({ project: 'bench', topic: 'plugin', data: Buffer.from(`message ${i}`).toString('base64'), attributes: '{"source":"bench"}' });
      Object.assign(out, await rates(n, {
        pubsub_plugin: await viaExecutor(plugin, config),
        pubsub_in_process: await viaExecutor(inProcess, (i) => ({ ...config(i), endpoint: server.address })),
        pubsub_raw: async (i) => {
          await topic.publishMessage({ data: Buffer.from(`message ${i}`), attributes: { source: 'bench' } });
        },
      }));
    }
    const published = server.messages('projects/bench/topics/plugin').length;
    if (published !== (perRound * rounds + 1) * concurrencies.length * 2) throw new Error(`the server has ${published} plugin messages`);
    return out;
  } finally {
    await client.close();
    await inProcess.close();
    await plugin.close();
    await server.close();
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'ct-bench-executors-'));
  try {
    const g = await grpcFigures(dir);
    const p = await pubsubFigures(dir);
    const ratios: Record<string, number> = {};
    for (const n of concurrencies) {
      for (const [name, figures] of [['grpc', g], ['pubsub', p]] as const) {
        const raw = figures[`${name}_raw_${n}_in_flight_per_s`] ?? Number.NaN;
        ratios[`${name}_plugin_ratio_vs_raw_${n}_in_flight`] = round((figures[`${name}_plugin_${n}_in_flight_per_s`] ?? 0) / raw);
        ratios[`${name}_in_process_ratio_vs_raw_${n}_in_flight`] = round((figures[`${name}_in_process_${n}_in_flight_per_s`] ?? 0) / raw);
      }
    }
    return { bench: 'executors-grpc-pubsub', messages_per_round: perRound, rounds, statistic: 'median', ...g, ...p, ...ratios };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
