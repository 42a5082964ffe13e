// The rabbitmq executor, with Dkron's config keys: url, exchange, queue.name
// (also the routing key), queue.create, queue.durable, queue.auto_delete,
// queue.exclusive, message.content_type, message.delivery_mode,
// message.messageId, message.body, message.base64Body; and beyond Dkron,
// timeout (a Go duration, or seconds; default 30s) for the whole run.
//
// mode "wait" makes the execution a workflow sensor: it binds a queue of its
// own (exclusive, deleted when it ends) to `exchange` with queue.name as the
// binding key (a topic pattern such as "payments.#" on a topic exchange) and
// succeeds, with the message body as its output, when a message arrives whose
// JSON value at key_path (a dot path; empty: any message) equals key; it
// fails at its timeout. Every message routed after the binding is in place
// reaches it (each sensor has its own copy; none is taken from another).
//
// Dkron publishes and hopes; here every publish is mandatory on a channel in
// confirm mode, so success means the broker has routed the message to a
// queue and taken responsibility for it, and a message no queue would take
// is a failure that says so. Connections are kept per URL (at most 32, least
// recently used closed); each holds a pool of confirm channels, one run per
// channel at a time, so a returned message belongs to the run that sent it.
// A channel error (unknown exchange, a queue declared with other flags)
// closes only that channel; a lost connection is forgotten, and the next run
// connects afresh.

import amqp, { type ChannelModel, type ConfirmChannel, type Message } from 'amqplib';
import { ExecErrorCode, failure, type ExecuteRequest, type ExecuteResult, type Executor, type OutputSink } from '../../sdk/executor.js';
import { DeadlineError, deadlineCode, ExecutionDeadline, formatMs, libraryTimeoutMs, parseTimeoutMs } from '../../sdk/execution-deadline.js';
import { parseGoBool } from '../../sdk/go-bool.js';
import { valueAt } from '../../sdk/json-path.js';

const defaultTimeoutMs = 30_000;
const maxConnections = 32;
const maxIdleChannels = 16;

interface RabbitJob {
  readonly url: string;
  /** The URL without its password, for messages. */
  readonly where: string;
  readonly user: string;
  readonly vhost: string;
  readonly exchange: string;
  readonly queue: string;
  readonly create: boolean;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly exclusive: boolean;
  readonly contentType: string;
  readonly deliveryMode: number;
  readonly messageId: string;
  readonly body: Buffer;
  readonly timeoutMs: number;
  /** A sensor: wait for a matching message instead of publishing. */
  readonly wait: { readonly keyPath: string; readonly key: string } | null;
}

const base64Text = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

function parseConfig(c: Readonly<Record<string, string>>): RabbitJob {
  const url = (c['url'] ?? '').trim();
  if (!url) throw new Error('url is required, e.g. amqp://user:password@host:5672/vhost');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('url is not a valid URL: use amqp://user:password@host:5672/vhost');
  }
  if (parsed.protocol !== 'amqp:' && parsed.protocol !== 'amqps:') throw new Error(`url must start with amqp:// or amqps://, not ${parsed.protocol}//`);
  const queue = c['queue.name'] ?? '';
  if (!queue) throw new Error('queue.name is required');
  const body = c['message.body'] ?? '';
  const base64Body = (c['message.base64Body'] ?? '').trim();
  if (body && base64Body) throw new Error('message.body and message.base64Body are both set: use one');
  if (base64Body && !base64Text.test(base64Body)) throw new Error('message.base64Body is not valid base64');
  const rawMode = (c['message.delivery_mode'] ?? '').trim() || '0';
  if (!/^[012]$/.test(rawMode)) throw new Error(`message.delivery_mode must be 0 (not set), 1 (transient) or 2 (persistent), not "${rawMode}"`);
  const vhost = parsed.pathname.length > 1 ? decodeURIComponent(parsed.pathname.slice(1)) : '/';
  // "amq.default" is how RabbitMQ shows the default exchange; over AMQP its name is "".
  const exchange = c['exchange'] === 'amq.default' ? '' : (c['exchange'] ?? '');
  const mode = (c['mode'] ?? '').trim();
  if (mode !== '' && mode !== 'publish' && mode !== 'wait') throw new Error(`mode must be "publish" (the default) or "wait", not "${mode}"`);
  if (mode === 'wait' && exchange === '') {
    throw new Error('mode "wait" needs an exchange to bind to (e.g. amq.topic, with queue.name as the binding key): the default exchange cannot be bound');
  }
  return {
    url,
    where: `${parsed.protocol}//${parsed.host}${parsed.pathname.length > 1 ? parsed.pathname : ''}`,
    user: decodeURIComponent(parsed.username) || 'guest',
    vhost,
    exchange,
    queue,
    create: parseGoBool('queue.create', c['queue.create']),
    durable: parseGoBool('queue.durable', c['queue.durable']),
    autoDelete: parseGoBool('queue.auto_delete', c['queue.auto_delete']),
    exclusive: parseGoBool('queue.exclusive', c['queue.exclusive']),
    contentType: c['message.content_type'] || 'text/plain',
    deliveryMode: Number(rawMode),
    messageId: c['message.messageId'] ?? '',
    body: base64Body ? Buffer.from(base64Body, 'base64') : Buffer.from(body),
    timeoutMs: parseTimeoutMs(c['timeout'], defaultTimeoutMs),
    wait: mode === 'wait' ? { keyPath: (c['key_path'] ?? '').trim(), key: c['key'] ?? '' } : null,
  };
}

export function validateRabbitmqConfig(config: Readonly<Record<string, string>>): string | null {
  try {
    parseConfig(config);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** A confirm channel that serves one run at a time. */
interface PooledChannel {
  readonly ch: ConfirmChannel;
  closed: boolean;
  /** Why the broker closed the channel, if it did. */
  error: Error | null;
  /** A message the broker returned since the current run began. */
  returned: Message | null;
}

interface Broker {
  readonly model: ChannelModel;
  readonly idle: PooledChannel[];
  closed: boolean;
  closeError: Error | null;
  /** Why the broker blocks publishing (a resource alarm), while it does. */
  blocked: string | null;
}

/** The broker's own words from an amqplib error ("NOT_FOUND - no exchange ..."). */
function brokerText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return /with message "(.*)"$/s.exec(message)?.[1] ?? message;
}

function connectError(err: unknown, job: RabbitJob): string {
  const e = err as Error & { code?: string };
  const message = e.message ?? String(err);
  if (e.code === 'ECONNREFUSED') return `cannot reach RabbitMQ at ${job.where}: connection refused`;
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return `cannot reach RabbitMQ at ${job.where}: unknown host`;
  if (/ACCESS-REFUSED|ACCESS_REFUSED/.test(message)) return `RabbitMQ at ${job.where} refused the login of user "${job.user}": ${brokerText(err)}`;
  if (/Expected ConnectionOpenOk; got <ConnectionClose/.test(message)) {
    return `RabbitMQ at ${job.where} refused to open virtual host "${job.vhost}" for user "${job.user}": does it exist, and may the user use it?`;
  }
  if (/ETIMEDOUT/.test(message)) return `timed out connecting to RabbitMQ at ${job.where}`;
  return `cannot connect to RabbitMQ at ${job.where}: ${message}`;
}

export class RabbitmqExecutor implements Executor {
  readonly name = 'rabbitmq';
  /** Connections by URL, least recently used first. */
  private readonly brokers = new Map<string, Promise<Broker>>();

  validate(config: Readonly<Record<string, string>>): string | null {
    return validateRabbitmqConfig(config);
  }

  private brokerFor(job: RabbitJob, fresh = false): Promise<Broker> {
    const key = job.url;
    if (fresh) this.brokers.delete(key);
    let pending = this.brokers.get(key);
    if (pending) {
      this.brokers.delete(key);
      this.brokers.set(key, pending);
      return pending;
    }
    const forget = () => {
      if (this.brokers.get(key) === pending) this.brokers.delete(key);
    };
    pending = amqp.connect(job.url, { timeout: libraryTimeoutMs(job.timeoutMs), noDelay: true, clientProperties: { connection_name: 'clocktower-executor-rabbitmq' } }).then((model) => {
      const broker: Broker = { model, idle: [], closed: false, closeError: null, blocked: null };
      model.on('error', (err: Error) => (broker.closeError = err));
      model.on('close', (err?: Error) => {
        broker.closed = true;
        if (err) broker.closeError = err;
        forget();
      });
      model.on('blocked', (reason: string) => (broker.blocked = reason));
      model.on('unblocked', () => (broker.blocked = null));
      return broker;
    });
    pending.catch(forget);
    this.brokers.set(key, pending);
    if (this.brokers.size > maxConnections) {
      const [oldestKey, oldest] = this.brokers.entries().next().value as [string, Promise<Broker>];
      this.brokers.delete(oldestKey);
      oldest.then((b) => b.model.close(), () => {}).catch(() => {});
    }
    return pending;
  }

  private async channelFrom(broker: Broker): Promise<PooledChannel> {
    for (let pc = broker.idle.pop(); pc; pc = broker.idle.pop()) {
      if (!pc.closed) return pc;
    }
    const ch = await broker.model.createConfirmChannel();
    const pc: PooledChannel = { ch, closed: false, error: null, returned: null };
    // Without an 'error' listener a channel error would crash the process.
    ch.on('error', (err: Error) => (pc.error = err));
    ch.on('close', () => (pc.closed = true));
    ch.on('return', (msg: Message) => (pc.returned = msg));
    return pc;
  }

  private release(broker: Broker, pc: PooledChannel): void {
    if (pc.closed || broker.closed) return;
    if (broker.idle.length < maxIdleChannels) broker.idle.push(pc);
    else pc.ch.close().catch(() => {});
  }

  async execute(req: ExecuteRequest, output: OutputSink, signal: AbortSignal): Promise<ExecuteResult> {
    let job: RabbitJob;
    try {
      job = parseConfig(req.config);
    } catch (err) {
      return failure((err as Error).message, -1, ExecErrorCode.ConfigInvalid);
    }
    if (signal.aborted) return failure('stopped before it started', -1, ExecErrorCode.Stopped);
    const deadline = new ExecutionDeadline(job.timeoutMs, signal);
    let broker: Broker;
    try {
      broker = await deadline.race(this.brokerFor(job));
      // A warm connection the broker has just dropped: connect afresh.
      if (broker.closed) broker = await deadline.race(this.brokerFor(job, true));
    } catch (err) {
      deadline.dispose();
      if (err instanceof DeadlineError) return failure(err.reason === 'stopped' ? 'stopped' : `timed out connecting to RabbitMQ at ${job.where} after ${formatMs(job.timeoutMs)}`, -1, deadlineCode(err));
      return failure(connectError(err, job));
    }
    if (job.wait) return this.sense(job, job.wait, broker, deadline, output);
    let pc: PooledChannel | null = null;
    let step = 'opening a channel';
    try {
      const opening = this.channelFrom(broker);
      pc = await deadline.race(opening).catch((err: unknown) => {
        // A channel that opens after the run gave up is closed, not leaked.
        opening.then((late) => late.ch.close(), () => {}).catch(() => {});
        throw err;
      });
      const ch = pc.ch;
      if (job.create) {
        step = `declaring queue "${job.queue}"`;
        await deadline.race(ch.assertQueue(job.queue, { durable: job.durable, autoDelete: job.autoDelete, exclusive: job.exclusive }));
      }
      step = 'publishing';
      pc.returned = null;
      await deadline.race(new Promise<void>((resolve, reject) => {
        ch.publish(job.exchange, job.queue, job.body, {
          mandatory: true,
          contentType: job.contentType,
          ...(job.deliveryMode ? { deliveryMode: job.deliveryMode } : {}),
          ...(job.messageId ? { messageId: job.messageId } : {}),
        }, (err: unknown) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve()));
      }));
      // The broker sends basic.return before the ack of an unroutable message.
      const returned = pc.returned as Message | null;
      if (returned) {
        const { replyCode, replyText } = returned.fields as unknown as { replyCode: number; replyText: string };
        return failure(job.exchange === ''
          ? `no queue "${job.queue}" to take the message: the broker returned it (${replyCode} ${replyText}); declare the queue or set queue.create`
          : `exchange "${job.exchange}" routes routing key "${job.queue}" to no queue: the broker returned the message (${replyCode} ${replyText})`);
      }
      output.write(Buffer.from(`published ${job.body.length} bytes to queue "${job.queue}"${job.exchange ? ` via exchange "${job.exchange}"` : ''}, confirmed by the broker\n`));
      return { success: true, exitCode: 0, error: '' };
    } catch (err) {
      return failure(this.runError(err, job, broker, pc, step));
    } finally {
      deadline.dispose();
      if (pc) {
        // A channel left waiting (timeout or stop) may still get the old
        // confirm or return; it serves no other run.
        if (deadline.expiredReason()) pc.ch.close().catch(() => {});
        else this.release(broker, pc);
      }
    }
  }

  /** A sensor: its own queue bound to the exchange; the first message whose key_path holds key. */
  private async sense(job: RabbitJob, want: { keyPath: string; key: string }, broker: Broker, deadline: ExecutionDeadline, output: OutputSink): Promise<ExecuteResult> {
    const what = want.keyPath === '' ? 'message' : `message whose ${want.keyPath} is ${JSON.stringify(want.key)}`;
    let step = 'opening a channel';
    let channelError: Error | null = null;
    const opening = broker.model.createChannel();
    try {
      const ch = await deadline.race(opening);
      ch.on('error', (err: Error) => (channelError = err));
      step = 'declaring its queue';
      const { queue } = await deadline.race(ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false }));
      step = `binding to exchange "${job.exchange}"`;
      await deadline.race(ch.bindQueue(queue, job.exchange, job.queue));
      step = 'waiting';
      // Bound: from here on every message the exchange routes here is seen.
      const found = new Promise<Buffer>((resolve, reject) => {
        ch.on('close', () => reject(new Error(channelError ? brokerText(channelError) : 'the channel closed')));
        ch.consume(queue, (msg) => {
          if (msg && (want.keyPath === '' || valueAt(msg.content, want.keyPath) === want.key)) resolve(msg.content);
        }, { noAck: true }).catch(reject);
      });
      found.catch(() => {});
      const body = await deadline.race(found);
      output.write(body);
      return { success: true, exitCode: 0, error: '' };
    } catch (err) {
      if (err instanceof DeadlineError) {
        if (err.reason === 'stopped') return failure('stopped', -1, ExecErrorCode.Stopped);
        return failure(step === 'waiting'
          ? `no ${what} from exchange "${job.exchange}" (binding key "${job.queue}") within ${formatMs(job.timeoutMs)}`
          : `timed out after ${formatMs(job.timeoutMs)} ${step}`, -1, ExecErrorCode.Timeout);
      }
      if (broker.closed) return failure(`lost the connection to RabbitMQ at ${job.where} while ${step}${broker.closeError ? `: ${brokerText(broker.closeError)}` : ''}`);
      return failure(`${step} failed: ${brokerText(channelError ?? err)}`);
    } finally {
      deadline.dispose();
      // The queue is exclusive and auto-deleted: closing the channel removes it.
      opening.then((ch) => ch.close(), () => {}).catch(() => {});
    }
  }

  private runError(err: unknown, job: RabbitJob, broker: Broker, pc: PooledChannel | null, step: string): string {
    if (err instanceof DeadlineError) {
      if (err.reason === 'stopped') return 'stopped';
      const blocked = broker.blocked ? ` (the broker is blocking publishers: ${broker.blocked})` : '';
      return `timed out after ${formatMs(job.timeoutMs)} ${step}${blocked}`;
    }
    if (broker.closed) return `lost the connection to RabbitMQ at ${job.where} while ${step}${broker.closeError ? `: ${brokerText(broker.closeError)}` : ''}`;
    if (pc?.error) return `${step === 'publishing' ? `publishing to exchange "${job.exchange || '(default)'}"` : step} failed: ${brokerText(pc.error)}`;
    const message = err instanceof Error ? err.message : String(err);
    if (/nack/i.test(message)) return `the broker refused the message (nack) for queue "${job.queue}"`;
    return `${step} failed: ${brokerText(err)}`;
  }

  async close(): Promise<void> {
    const pending = [...this.brokers.values()];
    this.brokers.clear();
    // A connect still under way is closed when it lands, without waiting for it.
    await Promise.allSettled(pending.map((p) => closeSoon(p.then((b) => b.model.close()))));
  }
}

/** Waits for `closing` at most a moment: close() must not hang on a silent broker. */
function closeSoon(closing: Promise<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([closing, new Promise((r) => (timer = setTimeout(r, 2000)))]).finally(() => clearTimeout(timer));
}
