// The nats executor, with Dkron's config keys: url (a comma list of
// servers, which may carry user:password@ or token@), subject, message,
// userName, password, debug; and beyond Dkron: token, request ("true": send
// a request and write the reply as output) and timeout (a Go duration, or
// seconds; default 30s) for the whole run.
//
// mode "wait" makes the execution a workflow sensor: it subscribes to
// subject (wildcards allowed) and succeeds, with the message as its output,
// when a message arrives whose JSON value at key_path (a dot path; empty:
// any message) equals key; it fails at its timeout. NATS core delivers to
// the subscriptions that exist when a message is published: the sensor's
// subscription is in place (flushed to the server) before it waits.
//
// Dkron fires and forgets; here a publish is followed by a flush (a PING the
// server answers after it has processed the message), so success means the
// server has the message. Connections are kept per distinct server list and
// credentials (at most 32, least recently used closed) and dropped when the
// server goes away; the next run connects afresh and says why it cannot.

import { connect, type NatsConnection, type NatsError } from 'nats';
import { ExecErrorCode, failure, type ExecuteRequest, type ExecuteResult, type Executor, type OutputSink } from '../../sdk/executor.js';
import { DeadlineError, deadlineCode, ExecutionDeadline, formatMs, libraryTimeoutMs, parseTimeoutMs } from '../../sdk/execution-deadline.js';
import { parseGoBool } from '../../sdk/go-bool.js';
import { valueAt } from '../../sdk/json-path.js';
import { natsSecretKeys } from './secret-keys.js';

const defaultTimeoutMs = 30_000;
const maxConnections = 32;

interface NatsJob {
  readonly servers: string[];
  readonly subject: string;
  readonly message: Uint8Array;
  readonly user: string;
  readonly pass: string;
  readonly token: string;
  readonly request: boolean;
  readonly timeoutMs: number;
  readonly debug: boolean;
  /** A sensor: wait for a matching message instead of publishing. */
  readonly wait: { readonly keyPath: string; readonly key: string } | null;
}

/**
 * A server URL without its credentials, and the credentials: as in the Go
 * client, "nats://user:pass@host" gives a user and password and
 * "nats://token@host" a token, and these win over the config keys.
 */
function splitCredentials(server: string): { server: string; user?: string; pass?: string; token?: string } {
  const m = /^([a-z]+:\/\/)?([^@/]*)@(.*)$/i.exec(server);
  if (!m) return { server };
  const [, scheme = '', userInfo = '', rest = ''] = m;
  const colon = userInfo.indexOf(':');
  const stripped = `${scheme}${rest}`;
  if (colon < 0) return { server: stripped, token: decodeURIComponent(userInfo) };
  return { server: stripped, user: decodeURIComponent(userInfo.slice(0, colon)), pass: decodeURIComponent(userInfo.slice(colon + 1)) };
}

function parseConfig(c: Readonly<Record<string, string>>): NatsJob {
  const parts = (c['url'] ?? '').split(',').map((s) => s.trim()).filter(Boolean).map(splitCredentials);
  if (parts.length === 0) throw new Error('url is required: a NATS server URL, or a comma list of them');
  const servers = parts.map((p) => p.server);
  const fromUrl = parts.find((p) => p.user !== undefined || p.token !== undefined);
  const subject = (c['subject'] ?? '').trim();
  if (!subject) throw new Error('subject is required');
  if (/\s/.test(subject)) throw new Error(`subject "${subject}" must not contain white space`);
  const mode = (c['mode'] ?? '').trim();
  if (mode !== '' && mode !== 'publish' && mode !== 'wait') throw new Error(`mode must be "publish" (the default) or "wait", not "${mode}"`);
  const wait = mode === 'wait' ? { keyPath: (c['key_path'] ?? '').trim(), key: c['key'] ?? '' } : null;
  if (wait && subject.split('.').some((token) => token === '')) throw new Error(`subject "${subject}" has an empty token`);
  if (!wait && subject.split('.').some((token) => token === '' || token === '*' || token === '>')) {
    throw new Error(`subject "${subject}" is not a subject to publish to: no empty tokens and no wildcards (* or >)`);
  }
  return {
    servers,
    subject,
    message: Buffer.from(c['message'] ?? ''),
    user: fromUrl ? fromUrl.user ?? '' : c['userName'] ?? '',
    pass: fromUrl ? fromUrl.pass ?? '' : c['password'] ?? '',
    token: fromUrl ? fromUrl.token ?? '' : c['token'] ?? '',
    request: parseGoBool('request', c['request']),
    timeoutMs: parseTimeoutMs(c['timeout'], defaultTimeoutMs),
    debug: Boolean(c['debug']),
    wait,
  };
}

export function validateNatsConfig(config: Readonly<Record<string, string>>): string | null {
  try {
    parseConfig(config);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

function credentialsText(job: NatsJob): string {
  if (job.token) return 'with a token';
  if (job.user) return `as user "${job.user}"`;
  return 'without credentials (set userName and password, or token)';
}

/** What a connect failure means, in plain words. */
function connectError(err: unknown, job: NatsJob): string {
  const where = `NATS at ${job.servers.join(',')}`;
  const e = err as Partial<NatsError>;
  switch (e.code) {
    case 'CONNECTION_REFUSED':
      return `cannot reach ${where}: connection refused`;
    case 'AUTHORIZATION_VIOLATION':
    case 'AUTHENTICATION_EXPIRED':
    case 'BAD_AUTHENTICATION':
      return `${where} refused the connection ${credentialsText(job)}: ${e.message ?? e.code}`;
    case 'CONNECTION_TIMEOUT':
    case 'TIMEOUT':
      return `timed out connecting to ${where}`;
    default:
      return `cannot connect to ${where}: ${e.message ?? String(err)}`;
  }
}

/** What a warm connection has seen, watched once per connection. */
interface ConnectionWatch {
  /**
   * Rejects when the connection closes: nats.js leaves a flush pending
   * forever if the connection closes while the PING waits for its PONG.
   */
  readonly lost: Promise<never>;
  /** Publishes the server refused (Permissions Violation), by subject. */
  readonly deniedPublishes: Map<string, number>;
}

const watches = new WeakMap<NatsConnection, ConnectionWatch>();

function watch(nc: NatsConnection): ConnectionWatch {
  let w = watches.get(nc);
  if (w) return w;
  const lost = nc.closed().then((err) => {
    throw Object.assign(new Error(err ? `the connection closed (${err.message})` : 'the connection closed'), { code: 'CONNECTION_CLOSED' });
  });
  lost.catch(() => {});
  const deniedPublishes = new Map<string, number>();
  // The server refuses a publish with an -ERR and keeps the connection; nats.js reports it as a status.
  void (async () => {
    for await (const status of nc.status()) {
      const denied = status.permissionContext;
      if (status.type !== 'error' || denied?.operation !== 'publish') continue;
      if (deniedPublishes.size > 1000) deniedPublishes.clear();
      deniedPublishes.set(denied.subject, (deniedPublishes.get(denied.subject) ?? 0) + 1);
    }
  })();
  w = { lost, deniedPublishes };
  watches.set(nc, w);
  return w;
}

export class NatsExecutor implements Executor {
  readonly name = 'nats';
  readonly secretKeys = natsSecretKeys;
  /** Connections by server list and credentials, least recently used first. */
  private readonly connections = new Map<string, Promise<NatsConnection>>();

  validate(config: Readonly<Record<string, string>>): string | null {
    return validateNatsConfig(config);
  }

  private connectionFor(job: NatsJob, fresh = false): Promise<NatsConnection> {
    const key = JSON.stringify([job.servers, job.user, job.pass, job.token]);
    if (fresh) this.connections.delete(key);
    let pending = this.connections.get(key);
    if (pending) {
      this.connections.delete(key);
      this.connections.set(key, pending);
      return pending;
    }
    const forget = () => {
      if (this.connections.get(key) === pending) this.connections.delete(key);
    };
    pending = connect({
      servers: job.servers,
      name: 'clocktower-executor-nats',
      timeout: libraryTimeoutMs(job.timeoutMs),
      // A lost connection is closed and forgotten, so every run either has a
      // live connection or a clear reason why it cannot get one.
      reconnect: false,
      ...(job.user ? { user: job.user, pass: job.pass } : {}),
      ...(job.token ? { token: job.token } : {}),
    });
    this.connections.set(key, pending);
    pending.then((nc) => void nc.closed().then(forget), forget);
    if (this.connections.size > maxConnections) {
      const [oldestKey, oldest] = this.connections.entries().next().value as [string, Promise<NatsConnection>];
      this.connections.delete(oldestKey);
      oldest.then((nc) => nc.close(), () => {}).catch(() => {});
    }
    return pending;
  }

  async execute(req: ExecuteRequest, output: OutputSink, signal: AbortSignal): Promise<ExecuteResult> {
    let job: NatsJob;
    try {
      job = parseConfig(req.config);
    } catch (err) {
      return failure((err as Error).message, -1, ExecErrorCode.ConfigInvalid);
    }
    if (job.debug) {
      const shown = { ...req.config, url: job.servers.join(','), ...(req.config['password'] ? { password: '***' } : {}), ...(req.config['token'] ? { token: '***' } : {}) };
      output.write(Buffer.from(`config: ${JSON.stringify(shown)}\n`));
    }
    if (signal.aborted) return failure('stopped before it started', -1, ExecErrorCode.Stopped);
    const started = performance.now();
    const deadline = new ExecutionDeadline(job.timeoutMs, signal);
    let nc: NatsConnection;
    try {
      nc = await deadline.race(this.connectionFor(job));
      // A warm connection the server has just dropped: connect afresh.
      if (nc.isClosed()) nc = await deadline.race(this.connectionFor(job, true));
    } catch (err) {
      deadline.dispose();
      if (err instanceof DeadlineError) return failure(err.reason === 'stopped' ? 'stopped' : `timed out connecting to NATS at ${job.servers.join(',')} after ${formatMs(job.timeoutMs)}`, -1, deadlineCode(err));
      return failure(connectError(err, job));
    }
    const w = watch(nc);
    const deniedBefore = w.deniedPublishes.get(job.subject) ?? 0;
    // The server answers in order, so a refusal arrives before the flush's
    // PONG or the reply; nats.js hands it over a few microtasks later.
    const refused = async () => {
      await new Promise((r) => setImmediate(r));
      return (w.deniedPublishes.get(job.subject) ?? 0) > deniedBefore
        ? `the server does not allow this connection (${credentialsText(job)}) to publish to "${job.subject}" (Permissions Violation)`
        : null;
    };
    if (job.wait) return this.sense(job, job.wait, nc, w.lost, deadline, output);
    try {
      if (job.request) {
        const remainingMs = Math.max(1, Math.round(job.timeoutMs - (performance.now() - started)));
        const replying = nc.request(job.subject, job.message, { timeout: libraryTimeoutMs(remainingMs) });
        replying.catch(() => {}); // awaited below, unless the publish is refused first
        await deadline.race(Promise.race([nc.flush(), w.lost]));
        const problem = await refused();
        if (problem) return failure(problem);
        const reply = await deadline.race(Promise.race([replying, w.lost]));
        output.write(reply.data);
        return { success: true, exitCode: 0, error: '' };
      }
      nc.publish(job.subject, job.message);
      await deadline.race(Promise.race([nc.flush(), w.lost]));
      const problem = await refused();
      if (problem) return failure(problem);
      output.write(Buffer.from(`Result: Message successfully sent to "${job.subject}" (${job.message.length} bytes, flushed to ${nc.getServer()})\n`));
      return { success: true, exitCode: 0, error: '' };
    } catch (err) {
      return failure((!(err instanceof DeadlineError) || err.reason === 'timeout' ? await refused() : null) ?? this.runError(err, job, nc));
    } finally {
      deadline.dispose();
    }
  }

  /** A sensor: the first message on the subject whose key_path holds key. */
  private async sense(job: NatsJob, want: { keyPath: string; key: string }, nc: NatsConnection, lost: Promise<never>, deadline: ExecutionDeadline, output: OutputSink): Promise<ExecuteResult> {
    const sub = nc.subscribe(job.subject);
    const what = want.keyPath === '' ? 'a message' : `a message whose ${want.keyPath} is ${JSON.stringify(want.key)}`;
    try {
      // The server has the subscription: from here on no message is missed.
      await deadline.race(Promise.race([nc.flush(), lost]));
      const found = (async () => {
        for await (const m of sub) if (want.keyPath === '' || valueAt(m.data, want.keyPath) === want.key) return m.data;
        throw new Error('the subscription ended');
      })();
      found.catch(() => {});
      const data = await deadline.race(Promise.race([found, lost]));
      output.write(data);
      return { success: true, exitCode: 0, error: '' };
    } catch (err) {
      if (err instanceof DeadlineError) return failure(err.reason === 'stopped' ? 'stopped' : `no ${what.slice(2)} on "${job.subject}" within ${formatMs(job.timeoutMs)}`, -1, deadlineCode(err));
      return failure(`waiting on "${job.subject}" failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      sub.unsubscribe();
      deadline.dispose();
    }
  }

  private runError(err: unknown, job: NatsJob, nc: NatsConnection): string {
    if (err instanceof DeadlineError) {
      if (err.reason === 'stopped') return 'stopped';
      return job.request
        ? `no reply on "${job.subject}" within ${formatMs(job.timeoutMs)}`
        : `timed out after ${formatMs(job.timeoutMs)} waiting for ${nc.getServer()} to take the message`;
    }
    const e = err as Partial<NatsError>;
    switch (e.code) {
      case '503':
        return `no responders on "${job.subject}": nothing is subscribed to answer the request`;
      case 'TIMEOUT':
        return `no reply on "${job.subject}" within ${formatMs(job.timeoutMs)}`;
      case 'MAX_PAYLOAD_EXCEEDED':
        return `the message (${job.message.length} bytes) is larger than the server's max_payload (${nc.info?.max_payload ?? '?'} bytes)`;
      case 'PERMISSIONS_VIOLATION':
        return `the server does not allow this connection (${credentialsText(job)}) to use "${job.subject}": ${e.message ?? e.code}`;
      case 'CONNECTION_CLOSED':
      case 'DISCONNECT':
        return `lost the connection to ${nc.getServer()}: ${e.message ?? e.code}`;
      default:
        return `${job.request ? 'request' : 'publish'} to "${job.subject}" failed: ${e.message ?? String(err)}`;
    }
  }

  async close(): Promise<void> {
    const pending = [...this.connections.values()];
    this.connections.clear();
    // A connect still under way is closed when it lands, without waiting for it.
    await Promise.allSettled(pending.map((p) => closeSoon(p.then((nc) => nc.close()))));
  }
}

/** Waits for `closing` at most a moment: close() must not hang on a silent server. */
function closeSoon(closing: Promise<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([closing, new Promise((r) => (timer = setTimeout(r, 2000)))]).finally(() => clearTimeout(timer));
}
