// A small single-node Kafka broker for tests: it speaks Kafka's real binary
// protocol on 127.0.0.1 (a free port), so kafkajs talks to it unchanged.
//
// Implemented, and advertised through ApiVersions (only these versions):
//   ApiVersions      v0-v2   (a higher version gets UNSUPPORTED_VERSION, as Kafka does)
//   Metadata         v4      (honours allow_auto_topic_creation when the server allows it)
//   Produce          v3      (RecordBatch v2, uncompressed or gzip, CRC-32C checked;
//                             offsets assigned per topic-partition; acks=0 gets no reply)
//   Fetch            v4      (the stored batches with their assigned offsets; waits up
//                             to max_wait_time for data, like a real broker's long poll)
//   ListOffsets      v1      (latest = -1, earliest = -2, or by timestamp)
//   FindCoordinator v0, JoinGroup v0, SyncGroup v0, Heartbeat v0, LeaveGroup v0,
//   OffsetFetch v1, OffsetCommit v2
//                             (consumer groups of ONE member at a time: a join by a new
//                             member takes the group over, and the old member's
//                             heartbeat gets UNKNOWN_MEMBER_ID; committed offsets kept)
//   SaslHandshake    v0-v1   (SCRAM-SHA-256, SCRAM-SHA-512)
//   SaslAuthenticate v0-v1   (a real SCRAM exchange against configured users; a wrong
//                             password gets SASL_AUTHENTICATION_FAILED and the connection closes)
// Optional TLS. Unknown topics get UNKNOWN_TOPIC_OR_PARTITION (3). Requests on
// one connection are answered one at a time, in order, as Kafka does.
//
// So tests read produced records back with a kafkajs consumer (and can also
// look at `records()` directly, and at log end offsets through kafkajs
// admin.fetchTopicOffsets). Not implemented: multi-member rebalancing,
// transactions, idempotent producer checks, compression other than gzip,
// flexible (tagged-field) versions, replication. A request for an API or
// version not advertised closes the connection, as a real broker does.

import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { gunzipSync } from 'node:zlib';

export type ScramMechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

export interface KafkaWireServerOptions {
  /** Topic name → partition count. */
  readonly topics?: Readonly<Record<string, number>>;
  /** Create an unknown topic (1 partition) when a Metadata request allows it. Default false. */
  readonly autoCreateTopics?: boolean;
  /** SASL/SCRAM users (name → password); when set, every client must authenticate. */
  readonly scramUsers?: Readonly<Record<string, string>>;
  readonly scramMechanisms?: readonly ScramMechanism[];
  readonly tls?: { readonly key: Buffer; readonly cert: Buffer };
}

export interface StoredRecord {
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: ReadonlyArray<{ key: string; value: Buffer | null }>;
}

export interface ProduceRequestSeen {
  readonly acks: number;
  readonly timeoutMs: number;
  readonly transactionalId: string | null;
}

const ApiKey = {
  Produce: 0, Fetch: 1, ListOffsets: 2, Metadata: 3, OffsetCommit: 8, OffsetFetch: 9, FindCoordinator: 10, JoinGroup: 11,
  Heartbeat: 12, LeaveGroup: 13, SyncGroup: 14, SaslHandshake: 17, ApiVersions: 18, SaslAuthenticate: 36,
} as const;
const advertised: ReadonlyArray<[number, number, number]> = [
  [ApiKey.Produce, 3, 3],
  [ApiKey.Fetch, 4, 4],
  [ApiKey.OffsetCommit, 2, 2],
  [ApiKey.OffsetFetch, 1, 1],
  [ApiKey.FindCoordinator, 0, 0],
  [ApiKey.JoinGroup, 0, 0],
  [ApiKey.Heartbeat, 0, 0],
  [ApiKey.LeaveGroup, 0, 0],
  [ApiKey.SyncGroup, 0, 0],
  [ApiKey.ListOffsets, 1, 1],
  [ApiKey.Metadata, 4, 4],
  [ApiKey.SaslHandshake, 0, 1],
  [ApiKey.ApiVersions, 0, 2],
  [ApiKey.SaslAuthenticate, 0, 1],
];
const ErrorCode = {
  None: 0, OffsetOutOfRange: 1, CorruptMessage: 2, IllegalGeneration: 22, UnknownMemberId: 25, UnknownTopicOrPartition: 3, IllegalSaslState: 34, UnsupportedVersion: 35,
  UnsupportedSaslMechanism: 33, SaslAuthenticationFailed: 58, UnsupportedCompressionType: 76,
} as const;
const nodeId = 1;
const scramIterations = 4096;

// ---- CRC-32C (Castagnoli), which RecordBatch v2 uses ----
const crcTable = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
export function crc32c(buf: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of buf) crc = (crcTable[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// ---- reading and writing Kafka's primitive types ----
class ProtocolError extends Error {}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new ProtocolError(`truncated: need ${n} bytes at ${this.pos} of ${this.buf.length}`);
  }
  get remaining(): number { return this.buf.length - this.pos; }
  int8(): number { this.need(1); return this.buf.readInt8(this.pos++); }
  int16(): number { this.need(2); const v = this.buf.readInt16BE(this.pos); this.pos += 2; return v; }
  int32(): number { this.need(4); const v = this.buf.readInt32BE(this.pos); this.pos += 4; return v; }
  uint32(): number { this.need(4); const v = this.buf.readUInt32BE(this.pos); this.pos += 4; return v; }
  int64(): number { this.need(8); const v = Number(this.buf.readBigInt64BE(this.pos)); this.pos += 8; return v; }
  bool(): boolean { return this.int8() !== 0; }
  raw(n: number): Buffer { this.need(n); const v = this.buf.subarray(this.pos, this.pos + n); this.pos += n; return v; }
  rest(): Buffer { return this.raw(this.remaining); }
  string(): string | null { const n = this.int16(); return n < 0 ? null : this.raw(n).toString('utf8'); }
  bytes(): Buffer | null { const n = this.int32(); return n < 0 ? null : this.raw(n); }
  array<T>(item: (r: Reader) => T): T[] | null {
    const n = this.int32();
    if (n < 0) return null;
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item(this));
    return out;
  }
  /** Zigzag varint (as records use), up to 2^53. */
  varint(): number {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      if (shift > 63) throw new ProtocolError('varint too long');
      const b = this.raw(1)[0] as number;
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
    }
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
  }
  varBytes(): Buffer | null { const n = this.varint(); return n < 0 ? null : this.raw(n); }
}

class Writer {
  private readonly parts: Buffer[] = [];
  private fixed(n: number, fill: (b: Buffer) => void): this { const b = Buffer.alloc(n); fill(b); this.parts.push(b); return this; }
  int8(v: number): this { return this.fixed(1, (b) => b.writeInt8(v)); }
  int16(v: number): this { return this.fixed(2, (b) => b.writeInt16BE(v)); }
  int32(v: number): this { return this.fixed(4, (b) => b.writeInt32BE(v)); }
  int64(v: number): this { return this.fixed(8, (b) => b.writeBigInt64BE(BigInt(v))); }
  bool(v: boolean): this { return this.int8(v ? 1 : 0); }
  string(v: string | null): this {
    if (v === null) return this.int16(-1);
    const b = Buffer.from(v, 'utf8');
    return this.int16(b.length).raw(b);
  }
  bytes(v: Buffer | null): this { return v === null ? this.int32(-1) : this.int32(v.length).raw(v); }
  raw(b: Buffer): this { this.parts.push(b); return this; }
  array<T>(items: readonly T[], item: (w: Writer, x: T, i: number) => void): this {
    this.int32(items.length);
    for (const [i, x] of items.entries()) item(this, x, i);
    return this;
  }
  done(): Buffer { return Buffer.concat(this.parts); }
}

// ---- RecordBatch v2 ----
function parseRecords(body: Buffer, count: number): Array<Omit<StoredRecord, 'offset' | 'timestamp'> & { offsetDelta: number; timestampDelta: number }> {
  const r = new Reader(body);
  const out = [];
  for (let i = 0; i < count; i++) {
    const length = r.varint();
    const rec = new Reader(r.raw(length));
    rec.int8(); // attributes, unused
    const timestampDelta = rec.varint();
    const offsetDelta = rec.varint();
    const key = rec.varBytes();
    const value = rec.varBytes();
    const headers = [];
    const headerCount = rec.varint();
    for (let h = 0; h < headerCount; h++) headers.push({ key: (rec.varBytes() ?? Buffer.alloc(0)).toString('utf8'), value: rec.varBytes() });
    out.push({ offsetDelta, timestampDelta, key, value, headers });
  }
  return out;
}

interface ParsedBatch {
  /** The batch from its partition leader epoch on, as sent (the CRC does not cover the base offset). */
  readonly raw: Buffer;
  readonly lastOffsetDelta: number;
  readonly firstTimestamp: number;
  readonly records: ReturnType<typeof parseRecords>;
}

/** Every batch in a record set; throws with the Kafka error code to answer. */
function parseRecordSet(set: Buffer): ParsedBatch[] {
  const r = new Reader(set);
  const batches: ParsedBatch[] = [];
  while (r.remaining > 0) {
    r.int64(); // base offset, assigned by the broker
    const raw = Buffer.from(r.raw(r.int32()));
    const batch = new Reader(raw);
    batch.int32(); // partition leader epoch
    const magic = batch.int8();
    if (magic !== 2) throw new KafkaCodeError(ErrorCode.CorruptMessage, `record batch magic ${magic}, only v2 is supported`);
    const crc = batch.uint32();
    const checked = batch.rest();
    if (crc32c(checked) !== crc) throw new KafkaCodeError(ErrorCode.CorruptMessage, 'record batch CRC-32C mismatch');
    const body = new Reader(checked);
    const attributes = body.int16();
    const lastOffsetDelta = body.int32();
    const firstTimestamp = body.int64();
    body.int64(); // max timestamp
    body.int64(); // producer id
    body.int16(); // producer epoch
    body.int32(); // base sequence
    const count = body.int32();
    const codec = attributes & 0x7;
    let records = body.rest();
    if (codec === 1) records = gunzipSync(records);
    else if (codec !== 0) throw new KafkaCodeError(ErrorCode.UnsupportedCompressionType, `compression codec ${codec} is not supported`);
    batches.push({ raw, lastOffsetDelta, firstTimestamp, records: parseRecords(records, count) });
  }
  return batches;
}

class KafkaCodeError extends Error {
  constructor(readonly code: number, message: string) { super(message); }
}

// ---- SCRAM (RFC 5802), server side ----
interface ScramCredential { readonly salt: Buffer; readonly storedKey: Buffer; readonly serverKey: Buffer }
const digestOf = (m: ScramMechanism) => (m === 'SCRAM-SHA-256' ? 'sha256' : 'sha512');

function scramCredential(mechanism: ScramMechanism, password: string): ScramCredential {
  const digest = digestOf(mechanism);
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password, salt, scramIterations, digest === 'sha256' ? 32 : 64, digest);
  const clientKey = createHmac(digest, salted).update('Client Key').digest();
  return { salt, storedKey: createHash(digest).update(clientKey).digest(), serverKey: createHmac(digest, salted).update('Server Key').digest() };
}

type SaslState =
  | { step: 'none' }
  | { step: 'handshaken'; mechanism: ScramMechanism }
  | { step: 'first-sent'; mechanism: ScramMechanism; user: string; nonce: string; clientFirstBare: string; serverFirst: string }
  | { step: 'done' };

interface PartitionLog {
  readonly records: StoredRecord[];
  /** The batches as produced, for Fetch, with the offsets they were given. */
  readonly batches: Array<{ readonly base: number; readonly last: number; readonly raw: Buffer }>;
  /** The next offset to assign (the log end offset). */
  end: number;
}

interface ConnectionState {
  sasl: SaslState;
  /** Frames waiting while a request (a long-polling Fetch) is being answered. */
  readonly queue: Buffer[];
  busy: boolean;
}

interface Group {
  generation: number;
  member: string | null;
  protocol: string;
  metadata: Buffer;
  assignment: Buffer;
  readonly offsets: Map<string, number>;
}

export class KafkaWireServer {
  /** Every Produce request's header fields, in arrival order. */
  readonly produceRequests: ProduceRequestSeen[] = [];
  /** Why connections were closed for protocol violations (unadvertised API, bad frames). */
  readonly protocolErrors: string[] = [];
  /** TCP connections accepted so far (clients that reuse connections keep it low). */
  connectionsAccepted = 0;
  /** While true, Produce requests are stored but never answered (to test client timeouts). */
  holdProduceResponses = false;

  private readonly topics = new Map<string, PartitionLog[]>();
  private readonly groups = new Map<string, Group>();
  private readonly fetchWaiters = new Set<(closing?: boolean) => void>();
  private closing = false;
  private memberIds = 0;
  private readonly sockets = new Set<Socket>();
  private readonly credentials = new Map<string, ScramCredential>();
  private readonly mechanisms: readonly ScramMechanism[];
  private server: Server | null = null;
  port = 0;

  private constructor(private readonly options: KafkaWireServerOptions) {
    for (const [name, partitions] of Object.entries(options.topics ?? {})) this.createTopic(name, partitions);
    this.mechanisms = options.scramUsers ? (options.scramMechanisms ?? ['SCRAM-SHA-256', 'SCRAM-SHA-512']) : [];
    for (const mechanism of this.mechanisms) {
      for (const [user, password] of Object.entries(options.scramUsers ?? {})) this.credentials.set(`${mechanism}\0${user}`, scramCredential(mechanism, password));
    }
  }

  static async start(options: KafkaWireServerOptions = {}): Promise<KafkaWireServer> {
    const broker = new KafkaWireServer(options);
    const onSocket = (socket: Socket) => broker.accept(socket);
    const server = options.tls ? createTlsServer({ key: options.tls.key, cert: options.tls.cert }, onSocket) : createNetServer(onSocket);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    broker.server = server;
    broker.port = (server.address() as AddressInfo).port;
    return broker;
  }

  /** "127.0.0.1:PORT", as a client's broker list takes it. */
  get address(): string { return `127.0.0.1:${this.port}`; }

  createTopic(name: string, partitions = 1): void {
    if (!this.topics.has(name)) this.topics.set(name, Array.from({ length: partitions }, () => ({ records: [], batches: [], end: 0 })));
  }

  hasTopic(name: string): boolean { return this.topics.has(name); }

  /** Client connections open now. */
  get openConnections(): number { return this.sockets.size; }

  /** What was produced to a topic-partition, in offset order. */
  records(topic: string, partition = 0): readonly StoredRecord[] {
    return this.topics.get(topic)?.[partition]?.records ?? [];
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const wake of [...this.fetchWaiters]) wake(true);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    this.connectionsAccepted++;
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const state: ConnectionState = { sasl: { step: this.mechanisms.length > 0 ? 'none' : 'done' }, queue: [], busy: false };
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const size = pending.readInt32BE(0);
        if (size < 0 || size > 100 * 1024 * 1024) return this.refuse(socket, `bad frame size ${size}`);
        if (pending.length < 4 + size) break;
        state.queue.push(Buffer.from(pending.subarray(4, 4 + size)));
        pending = pending.subarray(4 + size);
      }
      this.pump(socket, state);
    });
  }

  /** Answer queued requests in order; one that waits (Fetch) holds the rest back. */
  private pump(socket: Socket, state: ConnectionState): void {
    while (!state.busy && !socket.destroyed) {
      const frame = state.queue.shift();
      if (!frame) return;
      try {
        const waiting = this.handle(socket, state, frame);
        if (waiting) {
          state.busy = true;
          void waiting.then(() => {
            state.busy = false;
            this.pump(socket, state);
          }, (err: unknown) => this.refuse(socket, (err as Error).message));
        }
      } catch (err) {
        return this.refuse(socket, (err as Error).message);
      }
    }
  }

  private refuse(socket: Socket, why: string): void {
    this.protocolErrors.push(why);
    socket.destroy();
  }

  /** Answer one request; a Promise when the answer waits (a long-polling Fetch). */
  private handle(socket: Socket, state: ConnectionState, frame: Buffer): Promise<void> | void {
    const r = new Reader(frame);
    const apiKey = r.int16();
    const version = r.int16();
    const correlationId = r.int32();
    const clientId = r.string() ?? '';
    const reply = (body: Buffer) => {
      if (socket.destroyed) return;
      const header = Buffer.alloc(8);
      header.writeInt32BE(4 + body.length, 0);
      header.writeInt32BE(correlationId, 4);
      socket.write(Buffer.concat([header, body]));
    };

    if (apiKey === ApiKey.ApiVersions) return reply(this.apiVersions(version));
    const range = advertised.find(([key]) => key === apiKey);
    if (!range || version < range[1] || version > range[2]) throw new ProtocolError(`API key ${apiKey} version ${version} is not supported`);

    if (apiKey === ApiKey.SaslHandshake) return reply(this.saslHandshake(state, r));
    if (apiKey === ApiKey.SaslAuthenticate) {
      const { body, fail } = this.saslAuthenticate(state, r, version);
      reply(body);
      if (fail) socket.end();
      return;
    }
    if (state.sasl.step !== 'done') throw new ProtocolError(`API key ${apiKey} before SASL authentication`);

    switch (apiKey) {
      case ApiKey.Metadata: return reply(this.metadata(r));
      case ApiKey.ListOffsets: return reply(this.listOffsets(r));
      case ApiKey.Fetch: return this.fetch(r).then(reply);
      case ApiKey.FindCoordinator:
        r.string(); // group id: this node coordinates every group
        return reply(new Writer().int16(ErrorCode.None).int32(nodeId).string('127.0.0.1').int32(this.port).done());
      case ApiKey.JoinGroup: return reply(this.joinGroup(r, clientId));
      case ApiKey.SyncGroup: return reply(this.syncGroup(r));
      case ApiKey.Heartbeat: {
        const group = this.groups.get(r.string() ?? '');
        return reply(new Writer().int16(this.memberCheck(group, r.int32(), r.string() ?? '')).done());
      }
      case ApiKey.LeaveGroup: {
        const group = this.groups.get(r.string() ?? '');
        const member = r.string() ?? '';
        const known = group?.member === member;
        if (group && known) group.member = null;
        return reply(new Writer().int16(known ? ErrorCode.None : ErrorCode.UnknownMemberId).done());
      }
      case ApiKey.OffsetFetch: return reply(this.offsetFetch(r));
      case ApiKey.OffsetCommit: return reply(this.offsetCommit(r));
      case ApiKey.Produce: {
        const { acks, body } = this.produce(r);
        if (acks !== 0 && !this.holdProduceResponses) reply(body);
        return;
      }
    }
  }

  private apiVersions(version: number): Buffer {
    const w = new Writer();
    w.int16(version > 2 ? ErrorCode.UnsupportedVersion : ErrorCode.None);
    w.array(advertised, (w, [key, min, max]) => w.int16(key).int16(min).int16(max));
    if (version >= 1 && version <= 2) w.int32(0); // throttle time
    return w.done();
  }

  private metadata(r: Reader): Buffer {
    const requested = r.array((r) => r.string() ?? '');
    const allowAutoCreate = r.bool();
    const names = requested ?? [...this.topics.keys()];
    if (allowAutoCreate && this.options.autoCreateTopics) for (const name of names) this.createTopic(name);
    return new Writer()
      .int32(0) // throttle time
      .array([nodeId], (w, id) => w.int32(id).string('127.0.0.1').int32(this.port).string(null))
      .string('clocktower-test-cluster')
      .int32(nodeId) // controller
      .array(names, (w, name) => {
        const partitions = this.topics.get(name);
        w.int16(partitions ? ErrorCode.None : ErrorCode.UnknownTopicOrPartition).string(name).bool(false);
        w.array(partitions ?? [], (w, _log, i) => w.int16(ErrorCode.None).int32(i).int32(nodeId).array([nodeId], (w, id) => w.int32(id)).array([nodeId], (w, id) => w.int32(id)));
      })
      .done();
  }

  private produce(r: Reader): { acks: number; body: Buffer } {
    const transactionalId = r.string();
    const acks = r.int16();
    const timeoutMs = r.int32();
    this.produceRequests.push({ acks, timeoutMs, transactionalId });
    const topics = r.array((r) => ({
      topic: r.string() ?? '',
      partitions: r.array((r) => ({ partition: r.int32(), records: r.bytes() ?? Buffer.alloc(0) })) ?? [],
    })) ?? [];
    const w = new Writer();
    w.array(topics, (w, { topic, partitions }) => {
      w.string(topic);
      w.array(partitions, (w, { partition, records }) => {
        const { code, baseOffset } = this.append(topic, partition, records);
        w.int32(partition).int16(code).int64(baseOffset).int64(-1); // log append time: -1, as for CreateTime topics
      });
    });
    w.int32(0); // throttle time
    return { acks, body: w.done() };
  }

  private append(topic: string, partition: number, set: Buffer): { code: number; baseOffset: number } {
    const log = this.topics.get(topic)?.[partition];
    if (!log) return { code: ErrorCode.UnknownTopicOrPartition, baseOffset: -1 };
    let batches: ParsedBatch[];
    try {
      batches = parseRecordSet(set);
    } catch (err) {
      this.protocolErrors.push(`produce to ${topic}-${partition}: ${(err as Error).message}`);
      return { code: err instanceof KafkaCodeError ? err.code : ErrorCode.CorruptMessage, baseOffset: -1 };
    }
    const baseOffset = log.end;
    for (const batch of batches) {
      const batchBase = log.end;
      for (const rec of batch.records) {
        log.records.push({ offset: batchBase + rec.offsetDelta, timestamp: batch.firstTimestamp + rec.timestampDelta, key: rec.key, value: rec.value, headers: rec.headers });
      }
      log.end = batchBase + batch.lastOffsetDelta + 1;
      log.batches.push({ base: batchBase, last: log.end - 1, raw: batch.raw });
    }
    for (const wake of [...this.fetchWaiters]) wake();
    return { code: ErrorCode.None, baseOffset };
  }

  private listOffsets(r: Reader): Buffer {
    r.int32(); // replica id
    const topics = r.array((r) => ({ topic: r.string() ?? '', partitions: r.array((r) => ({ partition: r.int32(), timestamp: r.int64() })) ?? [] })) ?? [];
    return new Writer()
      .array(topics, (w, { topic, partitions }) => {
        w.string(topic);
        w.array(partitions, (w, { partition, timestamp }) => {
          const log = this.topics.get(topic)?.[partition];
          if (!log) return void w.int32(partition).int16(ErrorCode.UnknownTopicOrPartition).int64(-1).int64(-1);
          if (timestamp === -1) return void w.int32(partition).int16(ErrorCode.None).int64(-1).int64(log.end);
          if (timestamp === -2) return void w.int32(partition).int16(ErrorCode.None).int64(-1).int64(0);
          const found = log.records.find((rec) => rec.timestamp >= timestamp);
          w.int32(partition).int16(ErrorCode.None).int64(found?.timestamp ?? -1).int64(found?.offset ?? -1);
        });
      })
      .done();
  }

  private async fetch(r: Reader): Promise<Buffer> {
    r.int32(); // replica id
    const maxWaitMs = r.int32();
    r.int32(); // min bytes: any data answers at once
    r.int32(); // max bytes: each partition's limit is applied instead
    r.int8(); // isolation level: there are no transactions
    const wanted = r.array((r) => ({ topic: r.string() ?? '', partitions: r.array((r) => ({ partition: r.int32(), offset: r.int64(), maxBytes: r.int32() })) ?? [] })) ?? [];
    const hasData = () => wanted.some(({ topic, partitions }) => partitions.some(({ partition, offset }) => {
      const log = this.topics.get(topic)?.[partition];
      return !log || offset !== log.end; // an error is an answer too
    }));
    if (!hasData() && maxWaitMs > 0 && !this.closing) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.fetchWaiters.delete(wake);
          resolve();
        };
        const wake = (closing = false) => { if (closing || hasData()) done(); };
        const timer = setTimeout(done, maxWaitMs);
        this.fetchWaiters.add(wake);
      });
    }
    return new Writer()
      .int32(0) // throttle time
      .array(wanted, (w, { topic, partitions }) => {
        w.string(topic);
        w.array(partitions, (w, { partition, offset, maxBytes }) => {
          const log = this.topics.get(topic)?.[partition];
          const code = !log ? ErrorCode.UnknownTopicOrPartition : offset < 0 || offset > log.end ? ErrorCode.OffsetOutOfRange : ErrorCode.None;
          w.int32(partition).int16(code).int64(log?.end ?? -1).int64(log?.end ?? -1).int32(0); // no aborted transactions
          const parts: Buffer[] = [];
          let size = 0;
          for (const batch of code === ErrorCode.None && log ? log.batches : []) {
            if (batch.last < offset) continue;
            if (parts.length > 0 && size + 12 + batch.raw.length > maxBytes) break; // at least one batch, as Kafka does
            const head = Buffer.alloc(12);
            head.writeBigInt64BE(BigInt(batch.base), 0);
            head.writeInt32BE(batch.raw.length, 8);
            parts.push(head, batch.raw);
            size += 12 + batch.raw.length;
          }
          w.bytes(Buffer.concat(parts));
        });
      })
      .done();
  }

  private memberCheck(group: Group | undefined, generation: number, member: string): number {
    if (!group || group.member !== member) return ErrorCode.UnknownMemberId;
    return group.generation === generation ? ErrorCode.None : ErrorCode.IllegalGeneration;
  }

  private joinGroup(r: Reader, clientId: string): Buffer {
    const groupId = r.string() ?? '';
    r.int32(); // session timeout: members are not expired
    const requested = r.string() ?? '';
    r.string(); // protocol type
    const protocols = r.array((r) => ({ name: r.string() ?? '', metadata: r.bytes() ?? Buffer.alloc(0) })) ?? [];
    const chosen = protocols[0];
    if (!chosen) return new Writer().int16(23).int32(-1).string('').string('').string('').array([], (w) => w).done(); // INCONSISTENT_GROUP_PROTOCOL
    let group = this.groups.get(groupId);
    if (!group) this.groups.set(groupId, (group = { generation: 0, member: null, protocol: '', metadata: Buffer.alloc(0), assignment: Buffer.alloc(0), offsets: new Map() }));
    // One member at a time: a rejoin keeps its id, anyone else takes the group over.
    const member = requested && requested === group.member ? requested : `${clientId || 'member'}-${++this.memberIds}`;
    Object.assign(group, { generation: group.generation + 1, member, protocol: chosen.name, metadata: chosen.metadata, assignment: Buffer.alloc(0) });
    return new Writer()
      .int16(ErrorCode.None).int32(group.generation).string(chosen.name).string(member).string(member)
      .array([group], (w, g) => w.string(g.member).bytes(g.metadata))
      .done();
  }

  private syncGroup(r: Reader): Buffer {
    const group = this.groups.get(r.string() ?? '');
    const generation = r.int32();
    const member = r.string() ?? '';
    const assignments = r.array((r) => ({ member: r.string() ?? '', assignment: r.bytes() ?? Buffer.alloc(0) })) ?? [];
    const code = this.memberCheck(group, generation, member);
    if (code !== ErrorCode.None || !group) return new Writer().int16(code).bytes(Buffer.alloc(0)).done();
    const mine = assignments.find((a) => a.member === member);
    if (mine) group.assignment = mine.assignment;
    return new Writer().int16(ErrorCode.None).bytes(group.assignment).done();
  }

  private offsetFetch(r: Reader): Buffer {
    const group = this.groups.get(r.string() ?? '');
    const topics = r.array((r) => ({ topic: r.string() ?? '', partitions: r.array((r) => r.int32()) ?? [] })) ?? [];
    return new Writer()
      .array(topics, (w, { topic, partitions }) => {
        w.string(topic);
        w.array(partitions, (w, partition) => w.int32(partition).int64(group?.offsets.get(`${topic}\0${partition}`) ?? -1).string('').int16(ErrorCode.None));
      })
      .done();
  }

  private offsetCommit(r: Reader): Buffer {
    const group = this.groups.get(r.string() ?? '');
    const code = this.memberCheck(group, r.int32(), r.string() ?? '');
    r.int64(); // retention time
    const topics = r.array((r) => ({ topic: r.string() ?? '', partitions: r.array((r) => ({ partition: r.int32(), offset: r.int64(), metadata: r.string() })) ?? [] })) ?? [];
    return new Writer()
      .array(topics, (w, { topic, partitions }) => {
        w.string(topic);
        w.array(partitions, (w, { partition, offset }) => {
          if (code === ErrorCode.None) group?.offsets.set(`${topic}\0${partition}`, offset);
          w.int32(partition).int16(code);
        });
      })
      .done();
  }

  /** The offset a consumer group committed for a topic-partition, or -1. */
  committedOffset(groupId: string, topic: string, partition = 0): number {
    return this.groups.get(groupId)?.offsets.get(`${topic}\0${partition}`) ?? -1;
  }

  private saslHandshake(state: ConnectionState, r: Reader): Buffer {
    const mechanism = r.string() ?? '';
    const w = new Writer();
    const known = this.mechanisms.find((m) => m === mechanism);
    if (state.sasl.step !== 'none' && state.sasl.step !== 'handshaken') w.int16(ErrorCode.IllegalSaslState);
    else if (!known) w.int16(ErrorCode.UnsupportedSaslMechanism);
    else {
      w.int16(ErrorCode.None);
      state.sasl = { step: 'handshaken', mechanism: known };
    }
    return w.array(this.mechanisms, (w, m) => w.string(m)).done();
  }

  private saslAuthenticate(state: ConnectionState, r: Reader, version: number): { body: Buffer; fail: boolean } {
    const token = (r.bytes() ?? Buffer.alloc(0)).toString('utf8');
    const answer = (code: number, message: string | null, bytes: string) => {
      const w = new Writer().int16(code).string(message).bytes(Buffer.from(bytes, 'utf8'));
      if (version >= 1) w.int64(0); // session lifetime: unlimited
      return { body: w.done(), fail: code !== ErrorCode.None };
    };
    const sasl = state.sasl;
    if (sasl.step === 'handshaken') {
      // client-first: gs2 header "n,," then "n=user,r=nonce"
      const m = /^n,,(n=([^,]*),r=([^,]+))$/.exec(token);
      if (!m) return answer(ErrorCode.SaslAuthenticationFailed, 'Authentication failed: invalid SCRAM client-first message', '');
      const user = (m[2] ?? '').replace(/=2C/g, ',').replace(/=3D/g, '=');
      const cred = this.credentials.get(`${sasl.mechanism}\0${user}`);
      if (!cred) return answer(ErrorCode.SaslAuthenticationFailed, `Authentication failed during authentication due to invalid credentials with SASL mechanism ${sasl.mechanism}`, '');
      const nonce = `${m[3]}${randomBytes(16).toString('base64url')}`;
      const serverFirst = `r=${nonce},s=${cred.salt.toString('base64')},i=${scramIterations}`;
      state.sasl = { step: 'first-sent', mechanism: sasl.mechanism, user, nonce, clientFirstBare: m[1] ?? '', serverFirst };
      return answer(ErrorCode.None, null, serverFirst);
    }
    if (sasl.step === 'first-sent') {
      const m = /^(c=([^,]*),r=([^,]+)),p=([^,]+)$/.exec(token);
      const cred = this.credentials.get(`${sasl.mechanism}\0${sasl.user}`);
      const refused = answer(ErrorCode.SaslAuthenticationFailed, `Authentication failed during authentication due to invalid credentials with SASL mechanism ${sasl.mechanism}`, '');
      if (!m || !cred || m[3] !== sasl.nonce || m[2] !== Buffer.from('n,,').toString('base64')) return refused;
      const digest = digestOf(sasl.mechanism);
      const authMessage = `${sasl.clientFirstBare},${sasl.serverFirst},${m[1]}`;
      const clientSignature = createHmac(digest, cred.storedKey).update(authMessage).digest();
      const proof = Buffer.from(m[4] ?? '', 'base64');
      if (proof.length !== clientSignature.length) return refused;
      const clientKey = Buffer.from(proof.map((b, i) => b ^ (clientSignature[i] as number)));
      if (!timingSafeEqual(createHash(digest).update(clientKey).digest(), cred.storedKey)) return refused;
      state.sasl = { step: 'done' };
      return answer(ErrorCode.None, null, `v=${createHmac(digest, cred.serverKey).update(authMessage).digest('base64')}`);
    }
    return answer(ErrorCode.IllegalSaslState, 'SaslAuthenticate out of order', '');
  }
}
