// Messages per second through the nats and rabbitmq executors, run as real
// plugin programs through the host's PluginExecutor (plugin process warm,
// connection cached), against the raw client library publishing the same
// messages with the same guarantee in the same run: NATS publish + flush,
// RabbitMQ mandatory publish + confirm. One at a time, and 16 in flight.
// Also the executor class in-process (no plugin hop), to show where the
// time goes. Rounds alternate the three; figures are medians over the rounds.

import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import amqp, { type ConfirmChannel } from 'amqplib';
import { connect } from 'nats';
import { NatsExecutor } from '../plugins/executors/nats/nats-executor.js';
import { RabbitmqExecutor } from '../plugins/executors/rabbitmq/rabbitmq-executor.js';
import type { Executor } from '../plugins/sdk/executor.js';
import { PluginExecutor } from '../plugins/sdk/plugin-executor.js';
import { startNatsServer } from '../test/support/nats-server.js';
import { startRabbitmqServer } from '../test/support/rabbitmq-server.js';
import { isMain, median, round } from './stats.js';

const messages = Number(process.env['BENCH_BROKER_MESSAGES'] ?? 500);
const rounds = Number(process.env['BENCH_BROKER_ROUNDS'] ?? 5);
const concurrency = 16;
const body = 'x'.repeat(128);

type Send = (i: number) => Promise<void>;

/** Messages per second sending `messages` messages with `inFlight` at a time. */
async function rate(send: Send, inFlight: number): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < messages) await send(next++);
  }));
  return messages / ((performance.now() - start) / 1000);
}

async function compare(plugin: Send, inProcess: Send, raw: Send): Promise<Record<string, unknown>> {
  const figures: Record<string, unknown> = {};
  for (const [name, inFlight] of [['sequential', 1], [`in_flight_${concurrency}`, concurrency]] as const) {
    for (const send of [plugin, inProcess, raw]) await rate(send, inFlight); // warm-up
    const viaPlugin: number[] = [];
    const viaClass: number[] = [];
    const viaRaw: number[] = [];
    for (let r = 0; r < rounds; r++) {
      viaPlugin.push(await rate(plugin, inFlight));
      viaClass.push(await rate(inProcess, inFlight));
      viaRaw.push(await rate(raw, inFlight));
    }
    const [p, c, b] = [median(viaPlugin), median(viaClass), median(viaRaw)];
    figures[name] = {
      plugin_executor_msgs_per_s: round(p),
      in_process_executor_msgs_per_s: round(c),
      raw_client_msgs_per_s: round(b),
      ratio_plugin_to_raw: round(p / b, 3),
      ratio_in_process_to_raw: round(c / b, 3),
    };
  }
  return figures;
}

function plugin(dir: string, name: string): PluginExecutor {
  const program = join(dir, `clocktower-executor-${name}`);
  writeFileSync(program, `#!/bin/sh\nexec "${process.execPath}" "${resolve(`dist/plugins/executors/${name}/main.js`)}" "$@"\n`);
  chmodSync(program, 0o755);
  return new PluginExecutor(name, program);
}

function via(executor: Executor, config: Record<string, string>): Send {
  return async (i) => {
    const result = await executor.execute({ jobName: 'bench', config, executionId: String(i), scheduledAtMs: 0, attempt: 1 }, { write: () => {} }, new AbortController().signal);
    if (!result.success) throw new Error(`${executor.name} execution failed: ${result.error}`);
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'ct-bench-brokers-'));
  const nats = await startNatsServer();
  const rabbit = await startRabbitmqServer();
  const natsPlugin = plugin(dir, 'nats');
  const rabbitPlugin = plugin(dir, 'rabbitmq');
  const natsClass = new NatsExecutor();
  const rabbitClass = new RabbitmqExecutor();
  const nc = await connect({ servers: nats.url });
  const model = await amqp.connect(rabbit.url);
  try {
    // A subscriber on the subject, as a job's consumer would be.
    const sub = nc.subscribe('bench.subject', { callback: () => {} });
    const natsConfig = { url: nats.url, subject: 'bench.subject', message: body };
    const natsFigures = await compare(
      via(natsPlugin, natsConfig),
      via(natsClass, natsConfig),
      async () => {
        nc.publish('bench.subject', Buffer.from(body));
        await nc.flush();
      },
    );
    sub.unsubscribe();

    const setup = await model.createChannel();
    await setup.assertQueue('bench.queue');
    // The raw client gets a channel per message in flight, as the executor's pool does.
    const idle: ConfirmChannel[] = [];
    const rawRabbit: Send = async () => {
      const ch = idle.pop() ?? (await model.createConfirmChannel());
      await new Promise<void>((res, rej) => ch.publish('', 'bench.queue', Buffer.from(body), { mandatory: true, contentType: 'text/plain' }, (err: unknown) => (err ? rej(new Error(String(err))) : res())));
      idle.push(ch);
    };
    const rabbitConfig = { url: rabbit.url, 'queue.name': 'bench.queue', 'message.body': body };
    const rabbitFigures = await compare(via(rabbitPlugin, rabbitConfig), via(rabbitClass, rabbitConfig), rawRabbit);
    await setup.purgeQueue('bench.queue');

    return {
      bench: 'executors-nats-rabbitmq',
      messages_per_round: messages,
      rounds,
      body_bytes: body.length,
      nats: natsFigures,
      rabbitmq: rabbitFigures,
    };
  } finally {
    await nc.close();
    await model.close().catch(() => {});
    await natsPlugin.close();
    await rabbitPlugin.close();
    await natsClass.close();
    await rabbitClass.close();
    await nats.stop();
    await rabbit.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
