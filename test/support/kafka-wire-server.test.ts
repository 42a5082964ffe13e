// The Kafka wire-protocol test server, driven by kafkajs unchanged (producer,
// admin) and by hand-made frames for what kafkajs never sends.

import t from 'tap';
import { connect, type Socket } from 'node:net';
import { CompressionTypes, Kafka, logLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import { consume } from './kafka-read-back.js';
import { crc32c, KafkaWireServer } from './kafka-wire-server.js';

function kafka(server: KafkaWireServer, extra: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({ brokers: [server.address], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 2000, ...extra });
}

async function started(options: Parameters<typeof KafkaWireServer.start>[0]): Promise<KafkaWireServer> {
  const server = await KafkaWireServer.start(options);
  t.teardown(() => server.close());
  return server;
}

/** One request frame (header v1) and its response body, over a raw socket. */
async function rawRequest(server: KafkaWireServer, apiKey: number, version: number, body: Buffer): Promise<Buffer | 'closed'> {
  const header = Buffer.alloc(10);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(version, 2);
  header.writeInt32BE(42, 4);
  header.writeInt16BE(-1, 8); // null client id
  const request = Buffer.concat([header, body]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(request.length);
  const socket: Socket = connect(server.port, '127.0.0.1');
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    socket.on('error', reject);
    socket.on('data', (c: Buffer) => {
      got = Buffer.concat([got, c]);
      if (got.length >= 4 && got.length >= 4 + got.readInt32BE(0)) {
        socket.destroy();
        if (got.readInt32BE(4) !== 42) reject(new Error('wrong correlation id'));
        resolve(got.subarray(8, 4 + got.readInt32BE(0)));
      }
    });
    socket.on('close', () => resolve('closed'));
    socket.write(Buffer.concat([size, request]));
  });
}

t.test('CRC-32C matches the published check value', async (t) => {
  t.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
});

t.test('kafkajs produces (plain, with headers, gzip) and reads offsets back', async (t) => {
  const server = await started({ topics: { orders: 2 } });
  const client = kafka(server);
  const producer = client.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const first = await producer.send({ topic: 'orders', acks: -1, messages: [{ partition: 1, key: 'a', value: 'one' }, { partition: 1, value: 'two', headers: { trace: 'x1' } }] });
  t.match(first, [{ topicName: 'orders', partition: 1, errorCode: 0, baseOffset: '0' }]);
  const second = await producer.send({ topic: 'orders', compression: CompressionTypes.GZIP, messages: [{ partition: 1, key: null, value: 'three' }] });
  t.match(second, [{ partition: 1, baseOffset: '2' }]);

  const stored = server.records('orders', 1);
  t.same(stored.map((r) => [r.offset, r.key?.toString() ?? null, r.value?.toString()]), [[0, 'a', 'one'], [1, null, 'two'], [2, null, 'three']]);
  t.same(stored[1]?.headers.map((h) => [h.key, h.value?.toString()]), [['trace', 'x1']]);
  t.same(server.records('orders', 0), []);
  t.same(server.produceRequests.map((r) => r.acks), [-1, -1]);

  const admin = client.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  const offsets = await admin.fetchTopicOffsets('orders');
  t.same(offsets.sort((a, b) => a.partition - b.partition).map((o) => [o.partition, o.low, o.high]), [[0, '0', '0'], [1, '0', '3']]);
  const byTime = await admin.fetchTopicOffsetsByTimestamp('orders', (stored[0]?.timestamp ?? 0) + 1);
  t.ok(byTime.every((o) => Number(o.offset) >= -1), 'ListOffsets by timestamp answers');
  t.same(server.protocolErrors, []);
});

t.test('a kafkajs consumer group reads back what was produced, commits, and resumes', async (t) => {
  const server = await started({ topics: { events: 1 } });
  const client = kafka(server);
  const producer = client.producer();
  await producer.connect();
  t.teardown(() => producer.disconnect());
  await producer.send({ topic: 'events', messages: [{ key: 'k1', value: 'one' }, { value: 'two' }] });
  await producer.send({ topic: 'events', compression: CompressionTypes.GZIP, messages: [{ value: 'three' }] });

  const first = await consume(client, 'readers', 'events', 3);
  t.same(first, [{ offset: '0', key: 'k1', value: 'one' }, { offset: '1', key: null, value: 'two' }, { offset: '2', key: null, value: 'three' }]);
  t.equal(server.committedOffset('readers', 'events'), 3, 'the group committed its position');

  // The group resumes after its commit.
  const later = consume(client, 'readers', 'events', 1);
  await producer.send({ topic: 'events', messages: [{ value: 'four' }] });
  t.same(await later, [{ offset: '3', key: null, value: 'four' }]);
  t.same(server.protocolErrors, []);
});

t.test('a group has one member at a time: a new member takes it over', async (t) => {
  const server = await started({});
  const str = (v: string) => { const b = Buffer.from(v); const n = Buffer.alloc(2); n.writeInt16BE(b.length); return Buffer.concat([n, b]); };
  const i32 = (v: number) => { const b = Buffer.alloc(4); b.writeInt32BE(v); return b; };
  const join = async () => {
    const body = Buffer.concat([str('g'), i32(30_000), str(''), str('consumer'), i32(1), str('range'), i32(0)]);
    const res = await rawRequest(server, 11, 0, body) as Buffer;
    let o = 2;
    const generation = res.readInt32BE(o);
    o += 4;
    o += 2 + res.readInt16BE(o); // protocol
    o += 2 + res.readInt16BE(o); // leader
    const member = res.subarray(o + 2, o + 2 + res.readInt16BE(o)).toString();
    return { code: res.readInt16BE(0), generation, member };
  };
  const heartbeat = async (generation: number, member: string) => ((await rawRequest(server, 12, 0, Buffer.concat([str('g'), i32(generation), str(member)]))) as Buffer).readInt16BE(0);
  const a = await join();
  t.match(a, { code: 0, generation: 1 });
  t.equal(await heartbeat(a.generation, a.member), 0);
  const b = await join();
  t.match(b, { code: 0, generation: 2 });
  t.not(b.member, a.member);
  t.equal(await heartbeat(a.generation, a.member), 25, 'the old member is unknown now');
  t.equal(await heartbeat(1, b.member), 22, 'an old generation is illegal');
  t.equal(await heartbeat(b.generation, b.member), 0);
});

t.test('unknown topics get UNKNOWN_TOPIC_OR_PARTITION unless auto-creation is on and asked for', async (t) => {
  const server = await started({ topics: { known: 1 } });
  const admin = kafka(server).admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  t.match(await admin.fetchTopicMetadata({ topics: ['missing'] }).catch((e: unknown) => e), { type: 'UNKNOWN_TOPIC_OR_PARTITION' });
  const listed = await admin.listTopics();
  t.same(listed, ['known']);

  const auto = await started({ autoCreateTopics: true });
  const refusing = kafka(auto).producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  await refusing.connect();
  t.teardown(() => refusing.disconnect());
  await t.rejects(refusing.send({ topic: 'fresh', messages: [{ value: 'x' }] }), 'a client that does not allow it gets no topic');
  t.equal(auto.hasTopic('fresh'), false);
  const allowing = kafka(auto).producer({ allowAutoTopicCreation: true });
  await allowing.connect();
  t.teardown(() => allowing.disconnect());
  await allowing.send({ topic: 'fresh', messages: [{ value: 'x' }] });
  t.equal(auto.records('fresh').length, 1);
});

t.test('SASL/SCRAM: both mechanisms, a real exchange; wrong passwords and unknown users refused', async (t) => {
  const server = await started({ topics: { secure: 1 }, scramUsers: { alice: 'wonderland', 'bob,=x': 'builder' } });
  for (const mechanism of ['scram-sha-256', 'scram-sha-512'] as const) {
    for (const [username, password] of [['alice', 'wonderland'], ['bob,=x', 'builder']] as const) {
      const sasl: SASLOptions = mechanism === 'scram-sha-256' ? { mechanism, username, password } : { mechanism, username, password };
      const producer = kafka(server, { sasl }).producer();
      await producer.connect();
      await producer.send({ topic: 'secure', messages: [{ value: `${mechanism} ${username}` }] });
      await producer.disconnect();
    }
  }
  t.equal(server.records('secure').length, 4);

  const wrong = kafka(server, { sasl: { mechanism: 'scram-sha-256', username: 'alice', password: 'nope' } }).producer();
  await t.rejects(wrong.connect(), /invalid credentials with SASL mechanism SCRAM-SHA-256/);
  const nobody = kafka(server, { sasl: { mechanism: 'scram-sha-512', username: 'mallory', password: 'x' } }).producer();
  await t.rejects(nobody.connect(), /invalid credentials with SASL mechanism SCRAM-SHA-512/);
  const plain = kafka(server, { sasl: { mechanism: 'plain', username: 'alice', password: 'wonderland' } }).producer();
  await t.rejects(plain.connect(), /not supported|UNSUPPORTED_SASL_MECHANISM|mechanism/i);

  const unauthenticated = kafka(server).admin();
  await t.rejects(unauthenticated.connect().then(() => unauthenticated.listTopics()), 'no requests before authentication');
  await unauthenticated.disconnect();
  t.match(server.protocolErrors, [/before SASL authentication/]);
});

t.test('ApiVersions beyond v2 gets UNSUPPORTED_VERSION; unadvertised APIs close the connection', async (t) => {
  const server = await started({});
  const v3 = await rawRequest(server, 18, 3, Buffer.alloc(0));
  t.not(v3, 'closed');
  t.equal((v3 as Buffer).readInt16BE(0), 35);
  const v0 = await rawRequest(server, 18, 0, Buffer.alloc(0));
  t.equal((v0 as Buffer).readInt16BE(0), 0);
  t.ok((v0 as Buffer).readInt32BE(2) >= 6, 'lists the APIs');
  t.equal(await rawRequest(server, 19, 0, Buffer.alloc(0)), 'closed', 'CreateTopics is not implemented');
  t.equal(await rawRequest(server, 1, 4, Buffer.alloc(3)), 'closed', 'a truncated request closes the connection');
  t.equal(await rawRequest(server, 0, 7, Buffer.alloc(0)), 'closed', 'Produce v7 is not advertised');
  t.match(server.protocolErrors, [/API key 19 version 0/, /truncated/, /API key 0 version 7/]);
});

t.test('a record batch with a bad CRC is refused with CORRUPT_MESSAGE', async (t) => {
  const server = await started({ topics: { raw: 1 } });
  // One record: key null, value "v".
  const record = Buffer.from([0x00, 0x00, 0x00, 0x01, 0x02, 0x76, 0x00]);
  const recordWithLength = Buffer.concat([Buffer.from([record.length * 2]), record]);
  const body = Buffer.alloc(2 + 4 + 8 + 8 + 8 + 2 + 4 + 4);
  body.writeInt32BE(0, 2); // last offset delta
  body.writeBigInt64BE(-1n, 22); // producer id
  body.writeInt16BE(-1, 30);
  body.writeInt32BE(-1, 32);
  body.writeInt32BE(1, 36); // record count
  const checked = Buffer.concat([body, recordWithLength]);
  const batch = (crc: number) => {
    const head = Buffer.alloc(8 + 4 + 4 + 1 + 4);
    head.writeInt32BE(4 + 1 + 4 + checked.length, 8);
    head.writeInt8(2, 16);
    head.writeUInt32BE(crc, 17);
    return Buffer.concat([head, checked]);
  };
  const produce = (set: Buffer) => {
    const fixed = Buffer.alloc(2 + 2 + 4 + 4 + 2 + 3 + 4 + 4 + 4);
    let o = 0;
    o = fixed.writeInt16BE(-1, o); // transactional id
    o = fixed.writeInt16BE(-1, o); // acks
    o = fixed.writeInt32BE(1000, o);
    o = fixed.writeInt32BE(1, o);
    o = fixed.writeInt16BE(3, o);
    o += fixed.write('raw', o);
    o = fixed.writeInt32BE(1, o);
    o = fixed.writeInt32BE(0, o); // partition
    fixed.writeInt32BE(set.length, o);
    return Buffer.concat([fixed, set]);
  };
  const errorCodeOf = (res: Buffer | 'closed') => (res as Buffer).readInt16BE(4 + 2 + 3 + 4 + 4);
  t.equal(errorCodeOf(await rawRequest(server, 0, 3, produce(batch((crc32c(checked) ^ 1) >>> 0)))), 2);
  t.equal(server.records('raw').length, 0);
  t.equal(errorCodeOf(await rawRequest(server, 0, 3, produce(batch(crc32c(checked))))), 0);
  t.same(server.records('raw').map((r) => r.value?.toString()), ['v']);
});
