// A Google Cloud Pub/Sub test server: a grpc-js server speaking the real
// google.pubsub.v1.Publisher service (the pubsub.proto that ships inside
// @google-cloud/pubsub), so the real client library talks to it unchanged,
// as it talks to the Pub/Sub emulator (PUBSUB_EMULATOR_HOST or apiEndpoint).
//
// What it implements: Publisher.CreateTopic, GetTopic, DeleteTopic,
// ListTopics and Publish, with topics and published messages kept in memory
// (data, attributes, ordering key, message id, publish time) for tests to
// read back. Topic names must be projects/P/topics/T (else INVALID_ARGUMENT);
// an unknown topic is NOT_FOUND, an existing one on create ALREADY_EXISTS; a
// message with neither data nor attributes is INVALID_ARGUMENT, as the
// service answers. Nothing else: no Subscriber service, no subscriptions or
// delivery, no schemas, no message size or quota limits, no authentication;
// other Publisher methods answer UNIMPLEMENTED. stall() makes it take
// Publish calls and never answer them (until unstall() or close()), to test
// timeouts.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export interface StoredMessage {
  readonly data: Buffer;
  readonly attributes: Record<string, string>;
  readonly orderingKey: string;
  readonly messageId: string;
  readonly publishTimeMs: number;
}

export interface PubSubTestServer {
  /** 127.0.0.1:PORT, for PUBSUB_EMULATOR_HOST or the client's apiEndpoint. */
  readonly address: string;
  createTopic(name: string): void;
  /** What was published to a topic (full name), in order. */
  messages(topic: string): readonly StoredMessage[];
  /** Publish calls received (each may carry a batch of messages). */
  publishCalls(): number;
  stall(): void;
  unstall(): void;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);

function loadPublisher(): grpc.ServiceDefinition {
  const pubsubProtos = join(dirname(require.resolve('@google-cloud/pubsub/package.json')), 'build', 'protos');
  // google/api/*.proto come with google-gax (its main module is build/src/index.js).
  const gaxProtos = join(dirname(createRequire(join(pubsubProtos, 'x')).resolve('google-gax')), '..', 'protos');
  const def = protoLoader.loadSync('google/pubsub/v1/pubsub.proto', { includeDirs: [pubsubProtos, gaxProtos], keepCase: true, longs: String, enums: String, defaults: true });
  const loaded = grpc.loadPackageDefinition(def) as unknown as { google: { pubsub: { v1: { Publisher: grpc.ServiceClientConstructor } } } };
  return loaded.google.pubsub.v1.Publisher.service;
}

type Json = Record<string, unknown>;
const topicName = /^projects\/[^/]+\/topics\/[^/]+$/;

export async function startPubSubServer(): Promise<PubSubTestServer> {
  const topics = new Map<string, StoredMessage[]>();
  let nextId = 1;
  let calls = 0;
  let stalled = false;
  const held: (() => void)[] = [];
  const err = (code: grpc.status, details: string) => ({ code, details });

  const server = new grpc.Server();
  server.addService(loadPublisher(), {
    CreateTopic(call: grpc.ServerUnaryCall<Json, Json>, cb: grpc.sendUnaryData<Json>) {
      const name = String(call.request['name']);
      if (!topicName.test(name)) return cb(err(grpc.status.INVALID_ARGUMENT, `Invalid [topics] name: (name=${name})`));
      if (topics.has(name)) return cb(err(grpc.status.ALREADY_EXISTS, 'Topic already exists'));
      topics.set(name, []);
      cb(null, { name });
    },
    GetTopic(call: grpc.ServerUnaryCall<Json, Json>, cb: grpc.sendUnaryData<Json>) {
      const name = String(call.request['topic']);
      if (!topics.has(name)) return cb(err(grpc.status.NOT_FOUND, 'Resource not found (resource=topic).'));
      cb(null, { name });
    },
    DeleteTopic(call: grpc.ServerUnaryCall<Json, Json>, cb: grpc.sendUnaryData<Json>) {
      const name = String(call.request['topic']);
      if (!topics.delete(name)) return cb(err(grpc.status.NOT_FOUND, 'Resource not found (resource=topic).'));
      cb(null, {});
    },
    ListTopics(call: grpc.ServerUnaryCall<Json, Json>, cb: grpc.sendUnaryData<Json>) {
      const prefix = `${String(call.request['project'])}/topics/`;
      cb(null, { topics: [...topics.keys()].filter((n) => n.startsWith(prefix)).map((name) => ({ name })), next_page_token: '' });
    },
    Publish(call: grpc.ServerUnaryCall<Json, Json>, cb: grpc.sendUnaryData<Json>) {
      calls++;
      if (stalled) {
        held.push(() => cb(err(grpc.status.UNAVAILABLE, 'server closing')));
        return;
      }
      const name = String(call.request['topic']);
      const stored = topics.get(name);
      if (!topicName.test(name)) return cb(err(grpc.status.INVALID_ARGUMENT, `Invalid [topics] name: (name=${name})`));
      if (!stored) return cb(err(grpc.status.NOT_FOUND, 'Resource not found (resource=topic).'));
      const messages = (call.request['messages'] ?? []) as Json[];
      if (messages.length === 0) return cb(err(grpc.status.INVALID_ARGUMENT, 'The request contains no messages.'));
      const batch: StoredMessage[] = [];
      for (const m of messages) {
        const data = (m['data'] as Buffer | undefined) ?? Buffer.alloc(0);
        const attributes = (m['attributes'] ?? {}) as Record<string, string>;
        if (data.length === 0 && Object.keys(attributes).length === 0) return cb(err(grpc.status.INVALID_ARGUMENT, 'Some messages contain no data and no attributes.'));
        batch.push({ data, attributes, orderingKey: String(m['ordering_key'] ?? ''), messageId: String(nextId++), publishTimeMs: Date.now() });
      }
      stored.push(...batch);
      cb(null, { message_ids: batch.map((m) => m.messageId) });
    },
  });
  const port = await new Promise<number>((ok, fail) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))));
  const release = () => {
    for (const answer of held.splice(0)) answer();
  };
  return {
    address: `127.0.0.1:${port}`,
    createTopic: (name) => void topics.set(name, topics.get(name) ?? []),
    messages: (topic) => topics.get(topic) ?? [],
    publishCalls: () => calls,
    stall: () => void (stalled = true),
    unstall: () => {
      stalled = false;
      release();
    },
    close: async () => {
      release();
      server.forceShutdown();
    },
  };
}
