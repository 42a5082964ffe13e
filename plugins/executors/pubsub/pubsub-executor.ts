// The Google Cloud Pub/Sub executor, under Dkron's name `gcppubsub` and as
// `pubsub`, with Dkron's config keys: project, topic, data (base64),
// attributes (a JSON object of strings); plus orderingKey, endpoint and
// timeout. It publishes one message with @google-cloud/pubsub and writes the
// message id as the output, as Dkron does.
//
// The server is the one the library picks: PUBSUB_EMULATOR_HOST when set
// (an emulator, no credentials), else Google with Application Default
// Credentials; an `endpoint` key (host:port) overrides both, as the
// library's apiEndpoint. Clients are kept per (endpoint, project), at most
// 100, least recently used closed, and publishers per topic within them.

import { PubSub, type Topic } from '@google-cloud/pubsub';
import { ExecErrorCode, failure, type ExecuteRequest, type ExecuteResult, type Executor, type OutputSink } from '../../sdk/executor.js';
import { parseTimeoutMs } from '../../sdk/execution-deadline.js';
import { setLongTimeout, type LongTimeout } from '../../../common/long-timeout.js';

/** Dkron's gcppubsub executor waits 15 s. */
export const defaultTimeoutMs = 15_000;
const maxClients = 100;
const backstopSlackMs = 10_000;

export interface PubSubConfig {
  readonly project: string;
  readonly topic: string;
  readonly data: Buffer;
  readonly attributes: Readonly<Record<string, string>>;
  readonly orderingKey: string;
  readonly endpoint: string;
  readonly timeoutMs: number;
}

const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const base64url = /^[A-Za-z0-9_-]*$/;

function parseData(text: string): Buffer {
  const s = text.replace(/\s+/g, '');
  if (base64.test(s)) return Buffer.from(s, 'base64');
  if (base64url.test(s) && s.length % 4 !== 1) return Buffer.from(s, 'base64url');
  throw new Error('data must be base64 (e.g. "aGVsbG8=" for "hello")');
}

function parseAttributes(text: string): Record<string, string> {
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`attributes are not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('attributes must be a JSON object of strings, e.g. {"origin": "clocktower"}');
  for (const [k, v] of Object.entries(parsed)) {
    if (typeof v !== 'string') throw new Error(`attribute "${k}" must be a string, not ${JSON.stringify(v)}`);
  }
  return parsed as Record<string, string>;
}


/** The parsed config; throws an Error saying what is wrong. */
export function parsePubSubConfig(c: Readonly<Record<string, string>>): PubSubConfig {
  const project = (c['project'] ?? '').trim();
  const topic = (c['topic'] ?? '').trim();
  if (!project) throw new Error('project is required');
  if (!topic) throw new Error('topic is required');
  const full = /^projects\/([^/]+)\/topics\/([^/]+)$/.exec(topic);
  if (full && full[1] !== project) throw new Error(`topic ${topic} is not in project ${project}`);
  if (!full && topic.includes('/')) throw new Error(`topic "${topic}" must be a topic id or projects/PROJECT/topics/TOPIC`);
  const data = parseData(c['data'] ?? '');
  const attributes = parseAttributes(c['attributes'] ?? '');
  if (data.length === 0 && Object.keys(attributes).length === 0) throw new Error('set data (base64) or attributes: a message needs at least one');
  return { project, topic, data, attributes, orderingKey: c['orderingKey'] ?? '', endpoint: (c['endpoint'] ?? '').trim(), timeoutMs: parseTimeoutMs(c['timeout'], defaultTimeoutMs) };
}

export function validatePubSubConfig(c: Readonly<Record<string, string>>): string | null {
  try {
    parsePubSubConfig(c);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

interface CachedClient {
  readonly client: PubSub;
  readonly topics: Map<string, Topic>;
  /**
   * Credentials found (at once for an emulator). Checked before the first
   * publish because the library, when it has none, also rejects a promise
   * nobody handles, which would take the plugin process down.
   */
  readonly credentials: Promise<void>;
}

const statusNames: Record<number, string> = {
  1: 'CANCELLED', 2: 'UNKNOWN', 3: 'INVALID_ARGUMENT', 4: 'DEADLINE_EXCEEDED', 5: 'NOT_FOUND', 6: 'ALREADY_EXISTS', 7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED', 9: 'FAILED_PRECONDITION', 10: 'ABORTED', 11: 'OUT_OF_RANGE', 12: 'UNIMPLEMENTED', 13: 'INTERNAL', 14: 'UNAVAILABLE',
  15: 'DATA_LOSS', 16: 'UNAUTHENTICATED',
};

export class PubSubExecutor implements Executor {
  private readonly clients = new Map<string, CachedClient>();

  constructor(readonly name: 'pubsub' | 'gcppubsub' = 'pubsub') {}

  validate(config: Readonly<Record<string, string>>): string | null {
    return validatePubSubConfig(config);
  }

  private clientFor(c: PubSubConfig): CachedClient {
    const key = JSON.stringify([c.endpoint, c.project]);
    let cached = this.clients.get(key);
    if (cached) {
      this.clients.delete(key);
      this.clients.set(key, cached); // most recently used last
    } else {
      const emulator = c.endpoint || process.env['PUBSUB_EMULATOR_HOST'] || '';
      // For an emulator, say the universe outright: otherwise the library's first call spends
      // seconds probing for Google credentials (the GCE metadata server) it will not use.
      const client = new PubSub(emulator
        ? { projectId: c.project, apiEndpoint: emulator, emulatorMode: true, universeDomain: 'googleapis.com' }
        : { projectId: c.project });
      const credentials = client.isEmulator ? Promise.resolve() : client.auth.getClient().then(() => {});
      credentials.catch(() => this.clients.delete(key));
      cached = { client, topics: new Map(), credentials };
      this.clients.set(key, cached);
      if (this.clients.size > maxClients) {
        const [oldestKey, oldest] = this.clients.entries().next().value as [string, CachedClient];
        this.clients.delete(oldestKey);
        void oldest.client.close().catch(() => {});
      }
    }
    return cached;
  }

  private topicFor(c: PubSubConfig, cached: CachedClient): Topic {
    const topicKey = JSON.stringify([c.topic, c.orderingKey !== '', c.timeoutMs]);
    let topic = cached.topics.get(topicKey);
    if (!topic) {
      // Batches close after 1 ms rather than the library's 10, so a lone message goes out at once.
      topic = cached.client.topic(c.topic, { messageOrdering: c.orderingKey !== '', batching: { maxMilliseconds: 1 }, gaxOpts: { timeout: c.timeoutMs } });
      cached.topics.set(topicKey, topic);
    }
    return topic;
  }

  private where(c: PubSubConfig): string {
    return c.endpoint || process.env['PUBSUB_EMULATOR_HOST'] || 'pubsub.googleapis.com';
  }

  async execute(req: ExecuteRequest, output: OutputSink, signal: AbortSignal): Promise<ExecuteResult> {
    let c: PubSubConfig;
    try {
      c = parsePubSubConfig(req.config);
    } catch (err) {
      return failure((err as Error).message, -1, ExecErrorCode.ConfigInvalid);
    }
    if (signal.aborted) return failure('stopped', -1, ExecErrorCode.Stopped);
    const cached = this.clientFor(c);
    let timer: LongTimeout | undefined;
    let onAbort = () => {};
    // The library's own deadline (gaxOpts.timeout) answers first, with the cause; this is the
    // backstop, with room for the library's first connection, which its deadline does not count.
    const gaveUp = new Promise<'timeout' | 'stopped'>((resolve) => {
      timer = setLongTimeout(() => resolve('timeout'), c.timeoutMs + backstopSlackMs);
      onAbort = () => resolve('stopped');
      signal.addEventListener('abort', onAbort, { once: true });
    });
    const topicName = `projects/${c.project}/topics/${c.topic.replace(/^projects\/[^/]+\/topics\//, '')}`;
    try {
      try {
        const found = await Promise.race([cached.credentials.then(() => 'ok' as const), gaveUp]);
        if (found === 'stopped') return failure('stopped', -1, ExecErrorCode.Stopped);
        if (found === 'timeout') return failure(`timed out after ${c.timeoutMs / 1000}s looking for Google credentials`, -1, ExecErrorCode.Timeout);
      } catch (err) {
        return failure(`no Google credentials to publish with: ${(err as Error).message} (for an emulator, set PUBSUB_EMULATOR_HOST or endpoint)`);
      }
      const topic = this.topicFor(c, cached);
      const published = topic.publishMessage({ data: c.data, attributes: c.attributes, ...(c.orderingKey ? { orderingKey: c.orderingKey } : {}) });
      published.catch(() => {
        // A failed publish pauses its ordering key; the next execution starts afresh.
        if (c.orderingKey) topic.resumePublishing(c.orderingKey);
      });
      const outcome = await Promise.race([published, gaveUp]);
      if (outcome === 'stopped') return failure('stopped (the message may still be published)', -1, ExecErrorCode.Stopped);
      if (outcome === 'timeout') return failure(`timed out after ${c.timeoutMs / 1000}s publishing to ${topicName} at ${this.where(c)}`, -1, ExecErrorCode.Timeout);
      output.write(Buffer.from(outcome));
      return { success: true, exitCode: 0, error: '' };
    } catch (err) {
      return this.publishFailure(c, topicName, err as Error & { code?: number; details?: string });
    } finally {
      timer?.clear();
      signal.removeEventListener('abort', onAbort);
    }
  }

  private publishFailure(c: PubSubConfig, topicName: string, err: Error & { code?: number; details?: string }): ExecuteResult {
    const code = typeof err.code === 'number' ? err.code : -1;
    const details = (err.details || err.message).replace(/\.?\s*Resolution note:\s*$/, '');
    const where = this.where(c);
    if (code === 5) return failure(`topic ${topicName} does not exist at ${where} (NOT_FOUND: ${details})`, code);
    if (code === 14 || /\b14 UNAVAILABLE\b/.test(err.message)) {
      // The library retries until its deadline and reports every attempt; the first cause says it all.
      const cause = /Last error: (?:Error: )?(.*?)\.?\s*(?:Resolution note|$)/m.exec(err.message)?.[1] ?? details.slice(0, 300);
      return failure(`cannot reach Pub/Sub at ${where}: ${cause}`, 14);
    }
    if (code === 4) return failure(`timed out after ${c.timeoutMs / 1000}s publishing to ${topicName} at ${where} (no answer)`, code, ExecErrorCode.Timeout);
    if (code === 7 || code === 16) return failure(`not allowed to publish to ${topicName} at ${where} (${statusNames[code]}): ${details}`, code);
    return failure(`publishing to ${topicName} at ${where} failed: ${code >= 0 ? `${statusNames[code] ?? code} (${code}): ` : ''}${details}`, code);
  }

  async close(): Promise<void> {
    const clients = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(clients.map((c) => c.client.close().catch(() => {})));
  }
}
