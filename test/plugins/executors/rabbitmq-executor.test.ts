// The rabbitmq executor against a real RabbitMQ broker (a private node):
// in-process for the detailed cases, and once as a real plugin program
// through the host. Published messages are read back from the broker.

import t from 'tap';
import { freePort } from '../../support/free-port.js';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import amqp, { type Channel, type GetMessage } from 'amqplib';
import { RabbitmqExecutor, validateRabbitmqConfig } from '../../../plugins/executors/rabbitmq/rabbitmq-executor.js';
import { PluginExecutor } from '../../../plugins/sdk/plugin-executor.js';
import type { Executor } from '../../../plugins/sdk/executor.js';
import { startRabbitmqServer } from '../../support/rabbitmq-server.js';

const broker = await startRabbitmqServer({ user: 'scheduler', pass: 's3cret' });
t.teardown(() => broker.stop());
const url = broker.url;

const rabbit = new RabbitmqExecutor();
t.teardown(() => rabbit.close());

// The test's own connection, to set up queues and read messages back.
const admin = await amqp.connect(url);
admin.on('error', () => {}); // the last test has the broker close every connection
t.teardown(() => admin.close().catch(() => {}));
/** A fresh channel: a failed check closes its channel, so each check gets one. */
async function channel(): Promise<Channel> {
  const ch = await admin.createChannel();
  ch.on('error', () => {});
  return ch;
}
const setup = await channel();

async function run(config: Record<string, string>, executor: Executor = rabbit, signal = new AbortController().signal) {
  let output = '';
  const result = await executor.execute({ jobName: 'j', config, executionId: '1', scheduledAtMs: 0, attempt: 1 }, { write: (c) => (output += Buffer.from(c).toString()) }, signal);
  return { result, output };
}

async function take(queue: string): Promise<GetMessage | false> {
  return setup.get(queue, { noAck: true });
}

async function takeAll(queue: string): Promise<string[]> {
  const bodies: string[] = [];
  for (let m = await take(queue); m; m = await take(queue)) bodies.push(m.content.toString());
  return bodies;
}


t.test('mode wait: a sensor bound to an exchange takes the first message whose key matches; two sensors each see it', async (t) => {
  const config = { url, mode: 'wait', exchange: 'amq.topic', 'queue.name': 'payments.#', key_path: 'order.number', key: '42', timeout: '10s' };
  const sensing = [run(config), run(config)];
  let done = 0;
  for (const p of sensing) void p.then(() => done++);
  // Published until both sensors have one: what is routed before a binding exists is not theirs to see.
  for (let i = 0; done < 2 && i < 300; i++) {
    setup.publish('amq.topic', 'payments.card', Buffer.from(JSON.stringify({ order: { number: 41 } })));
    setup.publish('amq.topic', 'payments.card', Buffer.from('not json'));
    setup.publish('amq.topic', 'payments.card', Buffer.from(JSON.stringify({ order: { number: 42 }, i })));
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const p of sensing) {
    const { result, output } = await p;
    t.same(result, { success: true, exitCode: 0, error: '' });
    t.match(JSON.parse(output), { order: { number: 42 } }, 'the message is the output');
  }
  const late = await run({ ...config, 'queue.name': 'nothing.here', timeout: '300ms' });
  t.same(late.result, { success: false, exitCode: -1, error: 'no message whose order.number is "42" from exchange "amq.topic" (binding key "nothing.here") within 300ms', errorCode: 'CT_EXEC_TIMEOUT' });
  const stop = new AbortController();
  const stopped = run({ ...config, 'queue.name': 'never' }, rabbit, stop.signal);
  setTimeout(() => stop.abort(), 200);
  t.equal((await stopped).result.error, 'stopped');
  t.match((await run({ ...config, exchange: 'no-such-exchange' })).result.error, /binding to exchange "no-such-exchange" failed: .*NOT_FOUND/);
  t.match(validateRabbitmqConfig({ url, mode: 'wait', 'queue.name': 'q' }), /needs an exchange/);
});

t.test('publishes to an existing queue with the message properties', async (t) => {
  await setup.assertQueue('jobs');
  const { result, output } = await run({
    url, 'queue.name': 'jobs', 'message.body': '{"run":1}', 'message.content_type': 'application/json',
    'message.delivery_mode': '2', 'message.messageId': 'msg-1',
  });
  t.same(result, { success: true, exitCode: 0, error: '' });
  t.equal(output, 'published 9 bytes to queue "jobs", confirmed by the broker\n');
  const msg = await take('jobs');
  if (!msg) {
    t.fail('no message in the queue');
    return;
  }
  t.equal(msg.content.toString(), '{"run":1}');
  t.match(msg.properties, { contentType: 'application/json', deliveryMode: 2, messageId: 'msg-1' });
  t.equal(msg.fields.exchange, '');
  t.equal(msg.fields.routingKey, 'jobs');
});

t.test('a timeout past the timer limit (2^31-1 ms) does not fire at once', async (t) => {
  await setup.assertQueue('patient');
  // A URL no other test uses: a connection of its own, made with this timeout.
  const own = `${url}/?heartbeat=61`;
  const { result } = await run({ url: own, 'queue.name': 'patient', 'message.body': 'x', timeout: '600h' });
  t.same(result, { success: true, exitCode: 0, error: '' });
});

t.test('defaults: text/plain, no delivery mode, no message id', async (t) => {
  await setup.assertQueue('plain');
  t.equal((await run({ url, 'queue.name': 'plain', 'message.body': 'hi' })).result.success, true);
  const msg = await take('plain');
  if (!msg) {
    t.fail('no message in the queue');
    return;
  }
  t.match(msg.properties, { contentType: 'text/plain', deliveryMode: undefined, messageId: undefined });
});

t.test('queue.create declares the queue with its flags', async (t) => {
  const { result } = await run({ url, 'queue.name': 'created', 'queue.create': 'true', 'queue.durable': 'true', 'message.body': 'first' });
  t.equal(result.success, true, result.error);
  t.same(await takeAll('created'), ['first']);
  const check = await channel();
  t.match(await check.checkQueue('created'), { queue: 'created' }, 'the queue exists');
  // Declaring it again with the other durability is refused by the broker.
  t.match((await run({ url, 'queue.name': 'created', 'queue.create': 'true', 'queue.durable': 'false' })).result,
    { success: false, error: /declaring queue "created" failed: PRECONDITION_FAILED - inequivalent arg 'durable'/ });
  t.equal((await run({ url, 'queue.name': 'created', 'message.body': 'after' })).result.success, true, 'the executor carries on');
  t.same(await takeAll('created'), ['after']);
});

t.test('message.base64Body is decoded to bytes', async (t) => {
  await setup.assertQueue('binary');
  const bytes = Buffer.from([0, 1, 2, 250, 255]);
  t.equal((await run({ url, 'queue.name': 'binary', 'message.base64Body': bytes.toString('base64') })).result.success, true);
  const msg = await take('binary');
  t.same(msg && [...msg.content], [...bytes]);
});

t.test('through a named exchange, and "amq.default" as the default exchange', async (t) => {
  await setup.assertExchange('events', 'direct', { durable: false });
  await setup.assertQueue('events.q');
  await setup.bindQueue('events.q', 'events', 'events.q');
  const { result, output } = await run({ url, exchange: 'events', 'queue.name': 'events.q', 'message.body': 'routed' });
  t.equal(result.success, true, result.error);
  t.match(output, 'via exchange "events"');
  t.equal((await run({ url, exchange: 'amq.default', 'queue.name': 'events.q', 'message.body': 'default' })).result.success, true);
  t.same(await takeAll('events.q'), ['routed', 'default']);
});

t.test('a message no queue takes is a failure, and the connection carries on', async (t) => {
  t.match((await run({ url, 'queue.name': 'no-such-queue', 'message.body': 'lost?' })).result, {
    success: false,
    error: 'no queue "no-such-queue" to take the message: the broker returned it (312 NO_ROUTE); declare the queue or set queue.create',
  });
  t.match((await run({ url, exchange: 'events', 'queue.name': 'unbound-key' })).result,
    { success: false, error: 'exchange "events" routes routing key "unbound-key" to no queue: the broker returned the message (312 NO_ROUTE)' });
  await setup.assertQueue('after-return');
  t.equal((await run({ url, 'queue.name': 'after-return', 'message.body': 'ok' })).result.success, true);
  t.same(await takeAll('after-return'), ['ok']);
});

t.test('an unknown exchange closes only that channel', async (t) => {
  t.match((await run({ url, exchange: 'no-such-exchange', 'queue.name': 'jobs' })).result,
    { success: false, error: `publishing to exchange "no-such-exchange" failed: NOT_FOUND - no exchange 'no-such-exchange' in vhost '/'` });
  await setup.assertQueue('after-404');
  t.equal((await run({ url, 'queue.name': 'after-404', 'message.body': 'still fine' })).result.success, true);
  t.same(await takeAll('after-404'), ['still fine']);
});

t.test('concurrent runs on one connection each get their own outcome', async (t) => {
  await setup.assertQueue('busy');
  const runs = await Promise.all(Array.from({ length: 40 }, (_, i) => run({ url, 'queue.name': i % 4 === 3 ? `missing-${i}` : 'busy', 'message.body': `m${i}` })));
  for (const [i, r] of runs.entries()) {
    if (i % 4 === 3) t.match(r.result, { success: false, error: new RegExp(`no queue "missing-${i}"`) });
    else t.equal(r.result.success, true, `run ${i}: ${r.result.error}`);
  }
  const expected = Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 4 !== 3).map((i) => `m${i}`);
  t.same((await takeAll('busy')).sort(), expected.sort());
});

/** A server that accepts connections and never says a word; its port. */
async function silentServer(): Promise<number> {
  const sockets = new Set<Socket>();
  const s: Server = createServer((sock) => { sockets.add(sock); sock.on('close', () => sockets.delete(sock)); });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.teardown(() => { for (const sock of sockets) sock.destroy(); s.close(); });
  return (s.address() as AddressInfo).port;
}

t.test('login refused, unknown vhost, unreachable and silent brokers fail clearly', async (t) => {
  const where = `amqp://127.0.0.1:${broker.port}`;
  t.match((await run({ url: `amqp://scheduler:wrong@127.0.0.1:${broker.port}`, 'queue.name': 'jobs' })).result,
    { success: false, error: new RegExp(`^RabbitMQ at ${where} refused the login of user "scheduler": ACCESS_REFUSED`) });
  t.match((await run({ url: `${url}/no-such-vhost`, 'queue.name': 'jobs' })).result,
    { success: false, error: `RabbitMQ at ${where}/no-such-vhost refused to open virtual host "no-such-vhost" for user "scheduler": does it exist, and may the user use it?` });
  const dead = await freePort();
  t.match((await run({ url: `amqp://u:p@127.0.0.1:${dead}`, 'queue.name': 'jobs' })).result,
    { success: false, error: `cannot reach RabbitMQ at amqp://127.0.0.1:${dead}: connection refused` });
  const silentPort = await silentServer();
  t.match((await run({ url: `amqp://u:p@127.0.0.1:${silentPort}`, 'queue.name': 'jobs', timeout: '500ms' })).result,
    { success: false, error: new RegExp(`timed out connecting to RabbitMQ at amqp://127\\.0\\.0\\.1:${silentPort}`) });
});

t.test('a user without the permission to write or declare is refused clearly', async (t) => {
  await broker.ctl(['add_user', 'reader', 'pw']);
  await broker.ctl(['set_permissions', '-p', '/', 'reader', '', '', '.*']);
  await setup.assertQueue('guarded');
  const reader = `amqp://reader:pw@127.0.0.1:${broker.port}`;
  t.match((await run({ url: reader, 'queue.name': 'guarded', 'message.body': 'x' })).result,
    { success: false, error: /^publishing to exchange "\(default\)" failed: ACCESS_REFUSED - access to exchange 'amq.default' in vhost '\/' refused for user 'reader'/ });
  t.match((await run({ url: reader, 'queue.name': 'guarded', 'queue.create': 'true' })).result,
    { success: false, error: /^declaring queue "guarded" failed: ACCESS_REFUSED - access to queue 'guarded' in vhost '\/' refused for user 'reader'/ });
  t.same(await takeAll('guarded'), []);
});

t.test('a broker that blocks publishers makes the run time out, and says why', async (t) => {
  const executor = new RabbitmqExecutor();
  t.teardown(() => executor.close());
  await setup.assertQueue('blocked');
  t.equal((await run({ url, 'queue.name': 'blocked', 'message.body': 'before' }, executor)).result.success, true);
  // A memory alarm: the broker stops reading from publishing connections.
  // A probe that publishes sees the block once the alarm is in effect.
  const probe = await amqp.connect(url);
  probe.on('error', () => {});
  t.teardown(() => probe.close().catch(() => {}));
  const probed = new Promise<void>((resolve) => probe.once('blocked', () => resolve()));
  await broker.ctl(['set_vm_memory_high_watermark', 'absolute', '1']);
  t.teardown(() => broker.ctl(['set_vm_memory_high_watermark', '0.4']));
  (await probe.createChannel()).sendToQueue('blocked', Buffer.from('probe'));
  await probed;
  t.match((await run({ url, 'queue.name': 'blocked', 'message.body': 'during', timeout: '2s' }, executor)).result,
    { success: false, error: /^timed out after 2s publishing \(the broker is blocking publishers: low on memory\)$/ });
});

t.test('a stop ends a run', async (t) => {
  const silentPort = await silentServer();
  const ac = new AbortController();
  const running = run({ url: `amqp://u:p@127.0.0.1:${silentPort}`, 'queue.name': 'jobs', timeout: '1m' }, rabbit, ac.signal);
  setTimeout(() => ac.abort(), 50);
  t.match((await running).result, { success: false, error: 'stopped' });
  const already = new AbortController();
  already.abort();
  t.match((await run({ url, 'queue.name': 'jobs' }, rabbit, already.signal)).result, { success: false, error: 'stopped before it started' });
});

t.test('config checks', async (t) => {
  t.equal(validateRabbitmqConfig({ url, 'queue.name': 'q', 'queue.create': 'true', 'message.delivery_mode': '2' }), null);
  t.match(validateRabbitmqConfig({ 'queue.name': 'q' }), /url is required/);
  t.match(validateRabbitmqConfig({ url: 'http://x', 'queue.name': 'q' }), /must start with amqp:\/\/ or amqps:\/\//);
  t.match(validateRabbitmqConfig({ url }), /queue.name is required/);
  t.match(validateRabbitmqConfig({ url, 'queue.name': 'q', 'message.body': 'a', 'message.base64Body': 'YQ==' }), /both set/);
  t.match(validateRabbitmqConfig({ url, 'queue.name': 'q', 'message.base64Body': 'not base64!' }), /not valid base64/);
  t.match(validateRabbitmqConfig({ url, 'queue.name': 'q', 'message.delivery_mode': '3' }), /must be 0 \(not set\), 1 \(transient\) or 2 \(persistent\)/);
  t.match(validateRabbitmqConfig({ url, 'queue.name': 'q', 'queue.durable': 'maybe' }), /queue.durable must be true or false, not "maybe"/);
  t.match(validateRabbitmqConfig({ url, 'queue.name': 'q', timeout: 'later' }), /timeout must be seconds \(e.g. 30\) or a duration/);
  t.match((await run({ url })).result, { success: false, error: 'queue.name is required' });
});

t.test('as a plugin program through the host', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ct-rabbitmq-plugin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const program = join(dir, 'clocktower-executor-rabbitmq');
  writeFileSync(program, `#!/bin/sh\nexec "${process.execPath}" "${resolve('dist/plugins/executors/rabbitmq/main.js')}" "$@"\n`);
  chmodSync(program, 0o755);
  const plugin = new PluginExecutor('rabbitmq', program);
  t.teardown(() => plugin.close());
  const reader = await amqp.connect(url);
  reader.on('error', () => {});
  t.teardown(() => reader.close().catch(() => {}));
  const ch = await reader.createChannel();
  await ch.assertQueue('plugin.q');
  const ok = await run({ url, 'queue.name': 'plugin.q', 'message.body': 'via the plugin' }, plugin);
  t.same(ok.result, { success: true, exitCode: 0, error: '' });
  t.equal(ok.output, 'published 14 bytes to queue "plugin.q", confirmed by the broker\n');
  const msg = await ch.get('plugin.q', { noAck: true });
  t.equal(msg && msg.content.toString(), 'via the plugin');
  t.match((await run({ url, 'queue.name': 'plugin.missing' }, plugin)).result, { success: false, error: /no queue "plugin.missing"/ });
});

// Last: it closes every connection to the broker, the test's own too.
t.test('a connection the broker closes is replaced by the next run', async (t) => {
  const executor = new RabbitmqExecutor();
  t.teardown(() => executor.close());
  await setup.assertQueue('reconnect');
  t.equal((await run({ url, 'queue.name': 'reconnect', 'message.body': 'before' }, executor)).result.success, true);
  await broker.ctl(['close_all_connections', 'closed by the test']);
  const first = await run({ url, 'queue.name': 'reconnect', 'message.body': 'after' }, executor);
  if (!first.result.success) t.match(first.result.error, /lost the connection to RabbitMQ .*closed by the test/);
  const second = await run({ url, 'queue.name': 'reconnect', 'message.body': 'after' }, executor);
  t.equal(second.result.success, true, second.result.error);
});
