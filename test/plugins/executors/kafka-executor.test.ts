// The kafka executor against the Kafka wire-protocol test server (kafkajs
// unchanged on both sides of the wire): in-process for the detailed cases,
// and as the real plugin program through PluginExecutor. What was produced is
// read back with a kafkajs consumer group, and compared with what the server
// stored and with kafkajs admin.fetchTopicOffsets.

import t from 'tap';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaExecutor, parseKafkaConfig, saramaHashPartition } from '../../../plugins/executors/kafka/kafka-executor.js';
import { PluginExecutor } from '../../../plugins/sdk/plugin-executor.js';
import type { Executor } from '../../../plugins/sdk/executor.js';
import { consume } from '../../support/kafka-read-back.js';
import { KafkaWireServer } from '../../support/kafka-wire-server.js';

const tls = (f: string) => readFileSync(resolve('test/plugins/fixtures/tls', f));
const kafka = new KafkaExecutor();
t.teardown(() => kafka.close());

async function started(options: Parameters<typeof KafkaWireServer.start>[0]): Promise<KafkaWireServer> {
  const server = await KafkaWireServer.start(options);
  t.teardown(() => server.close());
  return server;
}

async function run(config: Record<string, string>, signal = new AbortController().signal, executor: Executor = kafka) {
  let output = '';
  const result = await executor.execute({ jobName: 'j', config, executionId: '1', scheduledAtMs: 0, attempt: 1 }, { write: (c) => (output += Buffer.from(c).toString()) }, signal);
  return { result, output };
}

const reader = (server: KafkaWireServer) => new Kafka({ brokers: [server.address], logLevel: logLevel.NOTHING });

async function highWatermarks(server: KafkaWireServer, topic: string): Promise<Record<number, string>> {
  const admin = reader(server).admin();
  await admin.connect();
  try {
    return Object.fromEntries((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, o.high]));
  } finally {
    await admin.disconnect();
  }
}

const server = await started({ topics: { jobs: 1, keyed: 4 } });

t.test('mode wait: a sensor takes the first message since the run reached it whose key matches, also one sent before it joined', async (t) => {
  const broker = await started({ topics: { orders: 2 } });
  const producer = reader(broker).producer();
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const sense = (config: Record<string, string>, since: number, signal = new AbortController().signal) => {
    let output = '';
    return kafka.execute({ jobName: 'j', config: { brokerAddress: broker.address, topic: 'orders', mode: 'wait', ...config }, executionId: 's1', scheduledAtMs: since, attempt: 1 },
      { write: (c) => (output += Buffer.from(c).toString()) }, signal).then((result) => ({ result, output }));
  };
  await producer.send({ topic: 'orders', messages: [{ value: JSON.stringify({ order: { number: 42 }, note: 'an older run' }), timestamp: String(Date.now() - 60_000) }] });
  const since = Date.now() - 1000;
  // Published after the run reached the sensor, before the sensor's consumer exists: not missed.
  await producer.send({ topic: 'orders', messages: [
    { value: JSON.stringify({ order: { number: 41 } }) },
    { value: 'not json' },
    { value: JSON.stringify({ order: { number: 42 }, note: 'this run' }) },
  ] });
  const got = await sense({ key_path: 'order.number', key: '42', timeout: '20s' }, since);
  t.same(got.result, { success: true, exitCode: 0, error: '' });
  t.same(JSON.parse(got.output), { order: { number: 42 }, note: 'this run' }, 'the message is the output; the older one is not this run\'s');
  const late = await sense({ key_path: 'order.number', key: '99', timeout: '2s' }, since);
  t.same(late.result, { success: false, exitCode: -1, error: 'no message whose order.number is "99" on topic "orders" within 2s', errorCode: 'CT_EXEC_TIMEOUT' });
  const stop = new AbortController();
  const stopped = sense({ key_path: 'x', key: 'y', timeout: '20s' }, since, stop.signal);
  setTimeout(() => stop.abort(), 300);
  t.equal((await stopped).result.error, 'stopped');
  t.match(kafka.validate({ brokerAddress: broker.address, topic: 'orders', mode: 'often' }), /mode must be/);
});

t.test('a message is produced with acks=-1, read back, and reported with topic, partition and offset', async (t) => {
  const first = await run({ brokerAddress: server.address, topic: 'jobs', key: 'job-1', message: 'hello kafka' });
  t.same(first.result, { success: true, exitCode: 0, error: '' });
  t.equal(first.output, 'Result: successfully produced the message on Kafka broker (topic jobs, partition 0, offset 0)\n');
  const second = await run({ brokerAddress: ` ${server.address} `, topic: 'jobs', message: 'no key' });
  t.match(second.output, /partition 0, offset 1\)/);
  t.same(server.records('jobs').map((r) => [r.offset, r.key?.toString() ?? null, r.value?.toString()]), [[0, 'job-1', 'hello kafka'], [1, null, 'no key']]);
  t.same(server.produceRequests.map((r) => r.acks), [-1, -1], 'acks = all in-sync replicas');
  const connections = server.connectionsAccepted;
  await run({ brokerAddress: server.address, topic: 'jobs', message: 'third' });
  t.equal(server.connectionsAccepted, connections, 'the producer connections are kept across executions');
  t.same(await highWatermarks(server, 'jobs'), { 0: '3' });
  t.same(await consume(reader(server), 'check', 'jobs', 3), [
    { offset: '0', key: 'job-1', value: 'hello kafka' },
    { offset: '1', key: null, value: 'no key' },
    { offset: '2', key: null, value: 'third' },
  ]);
});

t.test('a key picks its partition as Dkron (sarama FNV-1a) does; no key goes round robin', async (t) => {
  // Published FNV-1a 32 vectors: "" → 0x811c9dc5, "a" → 0xe40c292c, "foobar" → 0xbf9cf968.
  for (const [key, hash] of [['', 0x811c9dc5], ['a', 0xe40c292c], ['foobar', 0xbf9cf968]] as const) {
    for (const n of [1, 3, 4, 7]) t.equal(saramaHashPartition(Buffer.from(key), n), Math.abs((hash | 0) % n), `${JSON.stringify(key)} over ${n}`);
  }
  for (let i = 0; i < 3; i++) await run({ brokerAddress: server.address, topic: 'keyed', key: 'foobar', message: `m${i}` });
  const expected = saramaHashPartition(Buffer.from('foobar'), 4);
  t.equal(server.records('keyed', expected).length, 3, 'same key, same partition');
  for (let i = 0; i < 4; i++) await run({ brokerAddress: server.address, topic: 'keyed', message: `r${i}` });
  const unkeyed = [0, 1, 2, 3].map((p) => server.records('keyed', p).filter((r) => r.key === null).length);
  t.same(unkeyed, [1, 1, 1, 1]);
});

t.test('SASL/SCRAM sha256 and sha512; a wrong password is refused', async (t) => {
  const secure = await started({ topics: { secure: 1 }, scramUsers: { clocktower: 's3cret' } });
  const base = { brokerAddress: secure.address, topic: 'secure', saslUsername: 'clocktower', saslPassword: 's3cret' };
  t.match((await run({ ...base, saslMechanism: 'sha256', message: 'a' })).result, { success: true });
  t.match((await run({ ...base, saslMechanism: 'SHA512', message: 'b' })).result, { success: true });
  t.same(secure.records('secure').map((r) => r.value?.toString()), ['a', 'b']);
  const refused = await run({ ...base, saslPassword: 'guess', saslMechanism: 'sha256', message: 'c' });
  t.match(refused.result, { success: false, error: /^authentication refused by 127\.0\.0\.1:\d+: .*invalid credentials with SASL mechanism SCRAM-SHA-256/ });
  const noSasl = await run({ brokerAddress: secure.address, topic: 'secure', message: 'd', timeout: '10s' });
  t.match(noSasl.result, { success: false, error: /closed the connection: does it require TLS \(tlsEnable\) or SASL/ }, 'a client that does not authenticate gets nowhere');
  t.equal(secure.records('secure').length, 2);
});

t.test('an unknown topic fails clearly and is not created, even where the broker would', async (t) => {
  const r = await run({ brokerAddress: server.address, topic: 'missing', message: 'x' });
  t.match(r.result, { success: false, error: /^topic "missing" does not exist on 127\.0\.0\.1:\d+ \(UNKNOWN_TOPIC_OR_PARTITION\); topics are not created automatically$/ });
  const autoCreating = await started({ autoCreateTopics: true });
  t.match((await run({ brokerAddress: autoCreating.address, topic: 'fresh', message: 'x' })).result, { success: false, error: /UNKNOWN_TOPIC_OR_PARTITION/ });
  t.equal(autoCreating.hasTopic('fresh'), false);
});

t.test('an unreachable broker fails clearly', async (t) => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const r = await run({ brokerAddress: `127.0.0.1:${port}`, topic: 'jobs', message: 'x' });
  t.match(r.result, { success: false, error: new RegExp(`^cannot reach the Kafka brokers 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`) });
});

t.test('timeouts: a broker that never answers, and one that never acknowledges', async (t) => {
  const silent = createServer((s: Socket) => s.on('error', () => {}));
  const sockets = new Set<Socket>();
  silent.on('connection', (s) => sockets.add(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.teardown(() => { for (const s of sockets) s.destroy(); silent.close(); });
  const quiet = await run({ brokerAddress: `127.0.0.1:${(silent.address() as AddressInfo).port}`, topic: 'jobs', message: 'x', timeout: '1s' });
  t.match(quiet.result, { success: false, error: /^timed out after 1s producing to topic "jobs" on 127\.0\.0\.1:\d+$/ });

  const holding = await started({ topics: { slow: 1 } });
  t.match((await run({ brokerAddress: holding.address, topic: 'slow', message: 'warm' })).result, { success: true });
  holding.holdProduceResponses = true;
  const held = await run({ brokerAddress: holding.address, topic: 'slow', message: 'held', timeout: '1' });
  t.match(held.result, { success: false, error: /^timed out after 1s/ });
  holding.holdProduceResponses = false;
  const after = await run({ brokerAddress: holding.address, topic: 'slow', message: 'after' });
  t.match(after.result, { success: true }, 'the next execution gets a fresh connection');
  t.match(after.output, /offset 2\)/, 'the held message was stored, unacknowledged');
});

t.test('a stop ends the execution', async (t) => {
  const holding = await started({ topics: { slow: 1 } });
  holding.holdProduceResponses = true;
  const ac = new AbortController();
  const running = run({ brokerAddress: holding.address, topic: 'slow', message: 'x' }, ac.signal);
  // Stop once the produce request has reached the broker.
  const deadline = Date.now() + 20_000;
  while (holding.produceRequests.length === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  ac.abort();
  t.match((await running).result, { success: false, error: 'stopped' });
  holding.holdProduceResponses = false;
});

t.test('TLS: an unknown CA is refused unless tlsInsecureSkipVerify', async (t) => {
  const secure = await started({ topics: { tls: 1 }, tls: { key: tls('server.key'), cert: tls('server.crt') } });
  const base = { brokerAddress: secure.address, topic: 'tls', message: 'over tls', tlsEnable: 'true' };
  t.match((await run(base)).result, { success: false, error: /^cannot reach the Kafka brokers .*(certificate|self.signed)/i });
  t.match((await run({ ...base, tlsInsecureSkipVerify: 'true' })).result, { success: true });
  t.same(secure.records('tls').map((r) => r.value?.toString()), ['over tls']);
  t.match((await run({ ...base, tlsEnable: 'false' })).result, { success: false }, 'plain Kafka against a TLS listener fails');
});

t.test('debug writes the config (password hidden) and the client log to the output', async (t) => {
  const secure = await started({ topics: { dbg: 1 }, scramUsers: { u: 'pw-not-shown' } });
  const r = await run({ brokerAddress: secure.address, topic: 'dbg', message: 'x', debug: 'true', saslUsername: 'u', saslPassword: 'pw-not-shown', saslMechanism: 'sha512' });
  t.equal(r.result.success, true);
  t.match(r.output, /^config: \{.*"saslPassword":"\*\*\*"/);
  t.notMatch(r.output, /pw-not-shown/);
  t.match(r.output, /kafkajs .*Producer|kafkajs .*Connection/);
  t.match(r.output, /Result: successfully produced the message on Kafka broker/);
});

t.test('close() disconnects the cached producers', async (t) => {
  const own = await started({ topics: { c: 1 } });
  const executor = new KafkaExecutor();
  t.match((await run({ brokerAddress: own.address, topic: 'c', message: 'x' }, undefined, executor)).result, { success: true });
  t.ok(own.openConnections > 0);
  await executor.close();
  const deadline = Date.now() + 20_000;
  while (own.openConnections > 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  t.equal(own.openConnections, 0);
});

t.test('config checks, at save time and at run time', async (t) => {
  const ok = { brokerAddress: 'a:9092,b:9093', topic: 't' };
  t.equal(kafka.validate(ok), null);
  t.equal(kafka.validate({ topic: 't' }), 'brokerAddress is empty');
  t.equal(kafka.validate({ brokerAddress: 'a:9092' }), 'topic is empty');
  t.match(kafka.validate({ ...ok, brokerAddress: 'a' }), /brokerAddress "a" is not HOST:PORT/);
  t.match(kafka.validate({ ...ok, tlsEnable: 'yes please' }), /tlsEnable must be true or false/);
  t.equal(kafka.validate({ ...ok, tlsEnable: 'True', tlsInsecureSkipVerify: '1' }), null);
  t.match(kafka.validate({ ...ok, saslUsername: 'u', saslPassword: 'p', saslMechanism: 'plain' }), /saslMechanism must be sha256 or sha512, not "plain"/);
  t.match(kafka.validate({ ...ok, saslUsername: 'u', saslPassword: 'p' }), /saslMechanism must be sha256 or sha512/);
  t.equal(kafka.validate({ ...ok, saslUsername: 'u', saslMechanism: 'nonsense' }), null, 'SASL is off without a password, as in Dkron');
  t.match(kafka.validate({ ...ok, timeout: 'soon' }), /timeout: "soon" is not a duration/);
  t.match(kafka.validate({ ...ok, timeout: '0s' }), /more than zero/);
  t.match(parseKafkaConfig({ ...ok, timeout: '90' }), { timeoutMs: 90_000, brokers: ['a:9092', 'b:9093'] });
  t.match(parseKafkaConfig({ ...ok, timeout: '1m30s' }), { timeoutMs: 90_000 });
  t.match(parseKafkaConfig(ok), { timeoutMs: 30_000, debug: false, sasl: null });
  t.match((await run({ topic: 't' })).result, { success: false, error: 'brokerAddress is empty' });
});

t.test('the kafka plugin program produces through the plugin host', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ct-kafka-plugin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const program = join(dir, 'clocktower-executor-kafka');
  writeFileSync(program, `#!/bin/sh\nexec "${process.execPath}" "${resolve('dist/plugins/executors/kafka/main.js')}" "$@"\n`);
  chmodSync(program, 0o755);
  const plugin = new PluginExecutor('kafka', program);
  t.teardown(() => plugin.close());
  const topicServer = await started({ topics: { plugged: 1 }, scramUsers: { p: 'q' } });
  const base = { brokerAddress: topicServer.address, topic: 'plugged', saslUsername: 'p', saslPassword: 'q', saslMechanism: 'sha256' };
  const ok = await run({ ...base, key: 'k', message: 'via plugin' }, undefined, plugin);
  t.same(ok.result, { success: true, exitCode: 0, error: '' });
  t.equal(ok.output, 'Result: successfully produced the message on Kafka broker (topic plugged, partition 0, offset 0)\n');
  t.same(topicServer.records('plugged').map((r) => [r.key?.toString(), r.value?.toString()]), [['k', 'via plugin']]);
  const consumer = new Kafka({ brokers: [topicServer.address], logLevel: logLevel.NOTHING, sasl: { mechanism: 'scram-sha-256', username: 'p', password: 'q' } });
  t.same(await consume(consumer, 'check', 'plugged', 1), [{ offset: '0', key: 'k', value: 'via plugin' }]);
  const missing = await run({ ...base, topic: 'nowhere', message: 'x' }, undefined, plugin);
  t.match(missing.result, { success: false, error: /topic "nowhere" does not exist/ });
  const refused = await run({ ...base, saslPassword: 'wrong', message: 'x' }, undefined, plugin);
  t.match(refused.result, { success: false, error: /authentication refused/ });
});
