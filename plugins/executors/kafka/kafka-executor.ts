// The kafka executor, with Dkron's config keys: brokerAddress (comma list),
// topic, key, message, debug, tlsEnable, tlsInsecureSkipVerify, and SASL/SCRAM
// through saslUsername + saslPassword + saslMechanism (sha256 | sha512).
// Clocktower adds `timeout` (a Go duration or whole seconds, default 30s).
//
// Each execution produces one message with acks = -1 (all in-sync replicas,
// as Dkron's WaitForAll) and reports topic, partition and offset. Topics are
// never auto-created. A key picks its partition as Dkron's producer does
// (FNV-1a hash, sarama's default), so keyed messages keep their partition
// after a move from Dkron. Producers are kept connected per connection
// config (brokers, TLS, SASL) across executions, at most `maxClients`.
//
// mode "wait" makes the execution a workflow sensor: it reads the topic (a
// consumer group of its own) and succeeds, with the message value as its
// output, at the first message whose JSON value at key_path (a dot path;
// empty: any message) equals key (in this mode `key` is what to match, not a
// message key); it fails at its timeout. It reads from the messages stamped
// at or after the time the run reached it (the execution's scheduled time),
// so a message published after that is never missed, even one published
// before the sensor's consumer joined.

import { createHash } from 'node:crypto';
import { Kafka, logLevel, type KafkaConfig, type LogEntry, type PartitionerArgs, type Producer, type SASLOptions } from 'kafkajs';
import { ExecErrorCode, failure, type ExecuteRequest, type ExecuteResult, type Executor, type OutputSink } from '../../sdk/executor.js';
import { parseGoDurationMs } from '../../sdk/go-duration.js';
import { parseGoBool } from '../../sdk/go-bool.js';
import { valueAt } from '../../sdk/json-path.js';
import { setLongTimeout, type LongTimeout } from '../../../common/long-timeout.js';
import { kafkaSecretKeys } from './secret-keys.js';

const defaultTimeoutMs = 30_000;
const maxClients = 50;
/** How long close() waits for a producer to disconnect. */
const disconnectGraceMs = 2_000;

interface KafkaSettings {
  readonly brokers: string[];
  readonly topic: string;
  readonly key: string;
  readonly message: string;
  readonly debug: boolean;
  readonly tls: boolean;
  readonly tlsInsecureSkipVerify: boolean;
  readonly sasl: { mechanism: 'scram-sha-256' | 'scram-sha-512'; username: string; password: string } | null;
  readonly timeoutMs: number;
  /** A sensor: wait for a matching message instead of producing. */
  readonly wait: { readonly keyPath: string } | null;
}


export function parseKafkaConfig(c: Readonly<Record<string, string>>): KafkaSettings | string {
  const brokers = (c['brokerAddress'] ?? '').split(',').map((b) => b.trim()).filter(Boolean);
  if (brokers.length === 0) return 'brokerAddress is empty';
  for (const b of brokers) if (!/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(b)) return `brokerAddress "${b}" is not HOST:PORT`;
  const topic = (c['topic'] ?? '').trim();
  if (!topic) return 'topic is empty';
  const flags: Record<string, boolean> = {};
  for (const name of ['tlsEnable', 'tlsInsecureSkipVerify']) {
    try {
      flags[name] = parseGoBool(name, c[name]);
    } catch (err) {
      return (err as Error).message;
    }
  }
  let sasl: KafkaSettings['sasl'] = null;
  // As in Dkron: SASL is on when both a user name and a password are given.
  if (c['saslUsername'] && c['saslPassword']) {
    const mechanism = (c['saslMechanism'] ?? '').trim().toLowerCase();
    if (mechanism !== 'sha256' && mechanism !== 'sha512') return `saslMechanism must be sha256 or sha512, not "${c['saslMechanism'] ?? ''}"`;
    sasl = { mechanism: mechanism === 'sha256' ? 'scram-sha-256' : 'scram-sha-512', username: c['saslUsername'], password: c['saslPassword'] };
  }
  let timeoutMs = defaultTimeoutMs;
  if (c['timeout']) {
    try {
      timeoutMs = /^\d+$/.test(c['timeout'].trim()) ? Number(c['timeout']) * 1000 : parseGoDurationMs(c['timeout']);
    } catch (err) {
      return `timeout: ${(err as Error).message}`;
    }
    if (timeoutMs <= 0) return `timeout must be more than zero, not "${c['timeout']}"`;
  }
  // Dkron turns debug on for any non-empty value; "false" is taken at its word here.
  let debug: boolean;
  try {
    debug = parseGoBool('debug', c['debug']);
  } catch {
    debug = true;
  }
  const mode = (c['mode'] ?? '').trim();
  if (mode !== '' && mode !== 'publish' && mode !== 'wait') return `mode must be "publish" (the default) or "wait", not "${mode}"`;
  return {
    wait: mode === 'wait' ? { keyPath: (c['key_path'] ?? '').trim() } : null,
    brokers, topic, key: c['key'] ?? '', message: c['message'] ?? '', debug,
    tls: flags['tlsEnable'] === true, tlsInsecureSkipVerify: flags['tlsInsecureSkipVerify'] === true, sasl, timeoutMs,
  };
}

/** Where and how a client connects: brokers, TLS, SASL, and bounded timeouts (every execution also has its own deadline on top). */
function connection(s: KafkaSettings): Pick<KafkaConfig, 'brokers' | 'ssl' | 'sasl' | 'connectionTimeout' | 'authenticationTimeout' | 'requestTimeout' | 'retry'> {
  return {
    brokers: s.brokers,
    ...(s.tls ? { ssl: { rejectUnauthorized: !s.tlsInsecureSkipVerify } } : {}),
    ...(s.sasl ? { sasl: s.sasl as SASLOptions } : {}),
    connectionTimeout: 5_000,
    authenticationTimeout: 5_000,
    requestTimeout: 15_000,
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
  };
}

/** sarama's default hash partitioner: FNV-1a 32 of the key, as a signed int32, modulo, made positive. */
export function saramaHashPartition(key: Buffer, partitions: number): number {
  let h = 0x811c9dc5;
  for (const byte of key) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return Math.abs((h | 0) % partitions);
}

function dkronCompatiblePartitioner() {
  let next = 0;
  return ({ partitionMetadata, message }: PartitionerArgs): number => {
    const ids = partitionMetadata.map((p) => p.partitionId).sort((a, b) => a - b);
    const count = ids.length;
    if (message.key === null || message.key === undefined) return ids[next++ % count] as number; // no key: round robin
    const key = typeof message.key === 'string' ? Buffer.from(message.key) : message.key;
    return ids[saramaHashPartition(key, count)] as number;
  };
}

/** A producer shared by the executions with the same connection config. */
interface Client {
  readonly producer: Producer;
  connected: Promise<void>;
  /** Outputs of running debug executions that receive the client's log. */
  readonly debugSinks: Set<OutputSink>;
  /** Executions using it now; a retired client disconnects when the last one returns. */
  running: number;
  retired: boolean;
}

/** The chain of errors kafkajs wraps (retries, connection, protocol). */
function errorChain(err: unknown): Array<Error & { type?: string; code?: string; name: string }> {
  const chain = [];
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 10; depth++) {
    chain.push(e as Error & { type?: string; code?: string });
    const next = e as { originalError?: unknown; cause?: unknown };
    e = next.originalError ?? next.cause;
  }
  return chain;
}

function describeFailure(err: unknown, s: KafkaSettings): string {
  const chain = errorChain(err);
  const has = (test: (e: (typeof chain)[number]) => boolean) => chain.find(test);
  const deepest = chain[chain.length - 1]?.message ?? String(err);
  const brokers = s.brokers.join(',');
  if (has((e) => e.type === 'UNKNOWN_TOPIC_OR_PARTITION')) {
    return `topic "${s.topic}" does not exist on ${brokers} (UNKNOWN_TOPIC_OR_PARTITION); topics are not created automatically`;
  }
  const auth = has((e) => e.name === 'KafkaJSSASLAuthenticationError' || e.type === 'SASL_AUTHENTICATION_FAILED' || e.type === 'UNSUPPORTED_SASL_MECHANISM');
  if (auth) return `authentication refused by ${brokers}: ${auth.message}`;
  const conn = has((e) => e.name === 'KafkaJSConnectionError' || e.name === 'KafkaJSConnectionClosedError' || e.name === 'KafkaJSBrokerNotFound');
  if (conn) {
    const hint = conn.name === 'KafkaJSConnectionClosedError' ? ' (the broker closed the connection: does it require TLS (tlsEnable) or SASL (saslUsername, saslPassword)?)' : '';
    return `cannot reach the Kafka brokers ${brokers}: ${conn.message}${conn.message === deepest ? '' : ` (${deepest})`}${hint}`;
  }
  if (has((e) => e.name === 'KafkaJSRequestTimeoutError')) return `the Kafka brokers ${brokers} did not answer in time: ${deepest}`;
  return `producing to topic "${s.topic}" on ${brokers} failed: ${deepest}`;
}

export class KafkaExecutor implements Executor {
  readonly name = 'kafka';
  readonly secretKeys = kafkaSecretKeys;
  private readonly clients = new Map<string, Client>();

  validate(config: Readonly<Record<string, string>>): string | null {
    const s = parseKafkaConfig(config);
    return typeof s === 'string' ? s : null;
  }

  private clientKey(s: KafkaSettings): string {
    const identity = JSON.stringify([s.brokers, s.tls, s.tlsInsecureSkipVerify, s.sasl, s.debug]);
    return createHash('sha256').update(identity).digest('hex'); // no password kept in clear as a key
  }

  private clientFor(s: KafkaSettings): { key: string; client: Client } {
    const key = this.clientKey(s);
    const cached = this.clients.get(key);
    if (cached) {
      this.clients.delete(key);
      this.clients.set(key, cached); // most recently used last
      return { key, client: cached };
    }
    const debugSinks = new Set<OutputSink>();
    const kafka = new Kafka({
      clientId: 'clocktower',
      ...connection(s),
      logLevel: s.debug ? logLevel.DEBUG : logLevel.NOTHING,
      logCreator: () => ({ namespace, log }: LogEntry) => {
        const { message, timestamp: _t, ...extra } = log;
        const line = Buffer.from(`kafkajs ${namespace}: ${message}${Object.keys(extra).length ? ` ${JSON.stringify(extra)}` : ''}\n`);
        for (const sink of debugSinks) sink.write(line);
      },
    });
    const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: dkronCompatiblePartitioner, retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 } });
    const client: Client = { producer, connected: producer.connect(), debugSinks, running: 0, retired: false };
    client.connected.catch(() => this.drop(key, client)); // a failed connect is not reused
    this.clients.set(key, client);
    if (this.clients.size > maxClients) {
      const [oldestKey, oldest] = this.clients.entries().next().value as [string, Client];
      this.drop(oldestKey, oldest);
    }
    return { key, client };
  }

  /** Forget a client; it disconnects (in the background) once no execution uses it. */
  private drop(key: string, client: Client): void {
    if (this.clients.get(key) === client) this.clients.delete(key);
    client.retired = true;
    if (client.running === 0) void client.producer.disconnect().catch(() => {});
  }

  async execute(req: ExecuteRequest, output: OutputSink, signal: AbortSignal): Promise<ExecuteResult> {
    const s = parseKafkaConfig(req.config);
    if (typeof s === 'string') return failure(s, -1, ExecErrorCode.ConfigInvalid);
    if (signal.aborted) return failure('stopped', -1, ExecErrorCode.Stopped);
    if (s.debug) {
      const shown = { ...req.config, ...(req.config['saslPassword'] ? { saslPassword: '***' } : {}) };
      output.write(Buffer.from(`config: ${JSON.stringify(shown)}\n`));
    }
    if (s.wait) return this.sense(s, s.wait, req, output, signal);
    const { key, client } = this.clientFor(s);
    client.running++;
    if (s.debug) client.debugSinks.add(output);

    let timer: LongTimeout | undefined;
    let onStop: (() => void) | undefined;
    const deadline = new Promise<'timeout' | 'stopped'>((resolve) => {
      timer = setLongTimeout(() => resolve('timeout'), s.timeoutMs);
      onStop = () => resolve('stopped');
      signal.addEventListener('abort', onStop, { once: true });
    });
    const produce = (async () => {
      await client.connected;
      const [meta] = await client.producer.send({
        topic: s.topic,
        acks: -1,
        timeout: s.timeoutMs,
        messages: [{ key: s.key === '' ? null : s.key, value: s.message }],
      });
      return meta;
    })();
    try {
      const outcome = await Promise.race([produce.then((meta) => ({ meta }), (error: unknown) => ({ error })), deadline]);
      if (outcome === 'stopped') return failure('stopped', -1, ExecErrorCode.Stopped);
      if (outcome === 'timeout') {
        // A broker that does not answer in time makes the client suspect: later
        // executions get a fresh one, and whatever kafkajs is still doing ends with it.
        this.drop(key, client);
        produce.catch(() => {});
        return failure(`timed out after ${s.timeoutMs / 1000}s producing to topic "${s.topic}" on ${s.brokers.join(',')}`, -1, ExecErrorCode.Timeout);
      }
      if ('error' in outcome) return failure(describeFailure(outcome.error, s));
      const meta = outcome.meta;
      const offset = meta?.baseOffset ?? meta?.offset ?? '?';
      output.write(Buffer.from(`Result: successfully produced the message on Kafka broker (topic ${s.topic}, partition ${meta?.partition ?? '?'}, offset ${offset})\n`));
      return { success: true, exitCode: 0, error: '' };
    } finally {
      timer?.clear();
      if (onStop) signal.removeEventListener('abort', onStop);
      client.debugSinks.delete(output);
      client.running--;
      if (client.retired && client.running === 0) void client.producer.disconnect().catch(() => {});
    }
  }

  /** A sensor: the first message (stamped since the run reached it) whose key_path holds key. */
  private async sense(s: KafkaSettings, want: { keyPath: string }, req: ExecuteRequest, output: OutputSink, signal: AbortSignal): Promise<ExecuteResult> {
    const kafka = new Kafka({
      clientId: 'clocktower-sensor',
      ...connection(s),
      logLevel: logLevel.NOTHING,
    });
    const consumer = kafka.consumer({ groupId: `clocktower-sensor-${req.executionId}-${req.attempt}`, maxWaitTimeInMs: 250, retry: { retries: 2 } });
    const since = req.scheduledAtMs;
    const what = want.keyPath === '' ? 'message' : `message whose ${want.keyPath} is ${JSON.stringify(s.key)}`;
    let timer: LongTimeout | undefined;
    let onStop: (() => void) | undefined;
    const deadline = new Promise<'timeout' | 'stopped'>((resolve) => {
      timer = setLongTimeout(() => resolve('timeout'), s.timeoutMs);
      onStop = () => resolve('stopped');
      signal.addEventListener('abort', onStop, { once: true });
    });
    const found = new Promise<Buffer>((resolve, reject) => {
      void (async () => {
        await consumer.connect();
        // From the start of the topic, keeping what is stamped since the run reached the sensor.
        await consumer.subscribe({ topics: [s.topic], fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ message }) => {
            if (Number(message.timestamp) < since || !message.value) return;
            if (want.keyPath === '' || valueAt(message.value, want.keyPath) === s.key) resolve(message.value);
          },
        });
      })().catch(reject);
    });
    found.catch(() => {});
    try {
      const outcome = await Promise.race([found.then((value) => ({ value }), (error: unknown) => ({ error })), deadline]);
      if (outcome === 'stopped') return failure('stopped', -1, ExecErrorCode.Stopped);
      if (outcome === 'timeout') return failure(`no ${what} on topic "${s.topic}" within ${s.timeoutMs / 1000}s`, -1, ExecErrorCode.Timeout);
      if ('error' in outcome) return failure(describeFailure(outcome.error, s).replace('producing to', 'reading'));
      output.write(outcome.value);
      return { success: true, exitCode: 0, error: '' };
    } finally {
      timer?.clear();
      if (onStop) signal.removeEventListener('abort', onStop);
      void Promise.race([consumer.disconnect().catch(() => {}), new Promise<void>((r) => setTimeout(r, disconnectGraceMs).unref())]);
    }
  }

  async close(): Promise<void> {
    const clients = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(clients.map((c) => Promise.race([
      c.producer.disconnect().catch(() => {}),
      new Promise<void>((resolve) => setTimeout(resolve, disconnectGraceMs).unref()),
    ])));
  }
}
