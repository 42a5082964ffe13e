// The nats executor against real nats-server processes: in-process for the
// detailed cases, and once as a real plugin program through the host.

import t from 'tap';
import { freePort } from '../../support/free-port.js';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect, type Msg, type NatsConnection } from 'nats';
import { NatsExecutor, validateNatsConfig } from '../../../plugins/executors/nats/nats-executor.js';
import { PluginExecutor } from '../../../plugins/sdk/plugin-executor.js';
import type { Executor } from '../../../plugins/sdk/executor.js';
import { startNatsServer } from '../../support/nats-server.js';

const open = await startNatsServer();
t.teardown(() => open.stop());
const withUser = await startNatsServer({ user: 'scheduler', pass: 's3cret' });
t.teardown(() => withUser.stop());
const withToken = await startNatsServer({ token: 't0ken' });
t.teardown(() => withToken.stop());

const nats = new NatsExecutor();
t.teardown(() => nats.close());

async function run(config: Record<string, string>, executor: Executor = nats, signal = new AbortController().signal) {
  let output = '';
  const result = await executor.execute({ jobName: 'j', config, executionId: '1', scheduledAtMs: 0, attempt: 1 }, { write: (c) => (output += Buffer.from(c).toString()) }, signal);
  return { result, output };
}

/** A raw client on `url`, closed at the end of the test file. */
async function client(url: string, auth: { user?: string; pass?: string; token?: string } = {}): Promise<NatsConnection> {
  const nc = await connect({ servers: url, ...auth });
  t.teardown(() => nc.close());
  return nc;
}

/** The next `n` messages on `subject`, subscribed before this returns. */
async function receive(nc: NatsConnection, subject: string, n = 1): Promise<() => Promise<Msg[]>> {
  const sub = nc.subscribe(subject, { max: n });
  await nc.flush();
  return async () => {
    const got: Msg[] = [];
    for await (const m of sub) got.push(m);
    return got;
  };
}


/** A server that accepts connections and never says a word. */
async function silentServer(): Promise<string> {
  const sockets = new Set<Socket>();
  const s: Server = createServer((sock) => { sockets.add(sock); sock.on('close', () => sockets.delete(sock)); });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.teardown(() => { for (const sock of sockets) sock.destroy(); s.close(); });
  return `nats://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

t.test('mode wait: a sensor succeeds with the first message whose key matches; others pass by', async (t) => {
  const pub = await client(open.url);
  const sensing = run({ url: open.url, mode: 'wait', subject: 'orders.*', key_path: 'order.number', key: '42', timeout: '10s' });
  // Published until the sensor takes one: what arrives before its subscription is not its to see.
  let done = false;
  void sensing.then(() => (done = true));
  for (let i = 0; !done && i < 200; i++) {
    pub.publish('orders.paid', JSON.stringify({ order: { number: 41 }, n: i }));
    pub.publish('orders.paid', 'not json');
    pub.publish('orders.paid', JSON.stringify({ order: { number: 42 }, n: i }));
    await pub.flush();
    await new Promise((r) => setTimeout(r, 20));
  }
  const { result, output } = await sensing;
  t.same(result, { success: true, exitCode: 0, error: '' });
  t.match(JSON.parse(output), { order: { number: 42 } }, 'the message is the output');
  const late = await run({ url: open.url, mode: 'wait', subject: 'orders.none', key_path: 'id', key: 'x', timeout: '300ms' });
  t.same(late.result, { success: false, exitCode: -1, error: 'no message whose id is "x" on "orders.none" within 300ms', errorCode: 'CT_EXEC_TIMEOUT' });
  const stop = new AbortController();
  const stopped = run({ url: open.url, mode: 'wait', subject: 'orders.never', timeout: '10s' }, nats, stop.signal);
  setTimeout(() => stop.abort(), 100);
  t.equal((await stopped).result.error, 'stopped');
  t.match(validateNatsConfig({ url: open.url, subject: 'a.>', mode: 'sometimes' }), /mode must be/);
  t.equal(validateNatsConfig({ url: open.url, subject: 'a.>', mode: 'wait' }), null, 'a sensor may use wildcards');
});

t.test('publishes the message, read back by a subscriber', async (t) => {
  const reader = await client(open.url);
  const next = await receive(reader, 'jobs.tick');
  const { result, output } = await run({ url: open.url, subject: 'jobs.tick', message: 'hello from a job' });
  t.same(result, { success: true, exitCode: 0, error: '' });
  t.match(output, /^Result: Message successfully sent to "jobs.tick" \(16 bytes, flushed to 127\.0\.0\.1:\d+\)\n$/);
  const [msg] = await next();
  t.equal(Buffer.from(msg?.data ?? []).toString(), 'hello from a job');
});

t.test('one warm connection serves many runs, concurrent ones too', async (t) => {
  const reader = await client(open.url);
  const next = await receive(reader, 'jobs.many', 20);
  const before = await open.connections();
  const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => run({ url: open.url, subject: 'jobs.many', message: `m${i}` })));
  t.ok(runs.every((r) => r.result.success), 'all succeed');
  t.same((await next()).map((m) => Buffer.from(m.data).toString()).sort(), Array.from({ length: 20 }, (_, i) => `m${i}`).sort());
  t.ok(await open.connections() <= before + 1, 'at most one new connection');
});

t.test('a comma list of servers: an unreachable one is skipped', async (t) => {
  const reader = await client(open.url);
  const next = await receive(reader, 'jobs.list');
  const dead = await freePort();
  const { result } = await run({ url: `nats://127.0.0.1:${dead}, ${open.url}`, subject: 'jobs.list', message: 'x' });
  t.equal(result.success, true, result.error);
  t.equal((await next()).length, 1);
});

t.test('user and password authentication', async (t) => {
  const reader = await client(withUser.url, { user: 'scheduler', pass: 's3cret' });
  const next = await receive(reader, 'secure.subject');
  const ok = await run({ url: withUser.url, subject: 'secure.subject', message: 'authorized', userName: 'scheduler', password: 's3cret' });
  t.equal(ok.result.success, true, ok.result.error);
  t.equal(Buffer.from((await next())[0]?.data ?? []).toString(), 'authorized');
  t.match((await run({ url: withUser.url, subject: 'secure.subject', userName: 'scheduler', password: 'wrong' })).result,
    { success: false, error: /refused the connection as user "scheduler": .*Authorization Violation/i });
  t.match((await run({ url: withUser.url, subject: 'secure.subject' })).result,
    { success: false, error: /refused the connection without credentials \(set userName and password, or token\)/ });
  const inUrl = await run({ url: `nats://scheduler:s3cret@127.0.0.1:${withUser.port}`, subject: 'secure.subject' });
  t.equal(inUrl.result.success, true, 'credentials in the URL, as the Go client takes them');
  const wrongInUrl = await run({ url: `nats://scheduler:wrong@127.0.0.1:${withUser.port}`, subject: 'secure.subject' });
  t.match(wrongInUrl.result, { success: false, error: `NATS at nats://127.0.0.1:${withUser.port} refused the connection as user "scheduler": 'Authorization Violation'` });
  t.notMatch(wrongInUrl.result.error, /wrong/, 'the password is not repeated');
});

t.test('token authentication', async (t) => {
  const reader = await client(withToken.url, { token: 't0ken' });
  const next = await receive(reader, 'token.subject');
  t.equal((await run({ url: withToken.url, subject: 'token.subject', message: 'with token', token: 't0ken' })).result.success, true);
  t.equal(Buffer.from((await next())[0]?.data ?? []).toString(), 'with token');
  t.match((await run({ url: withToken.url, subject: 'token.subject', token: 'nope' })).result, { success: false, error: /refused the connection with a token/ });
  t.equal((await run({ url: `nats://t0ken@127.0.0.1:${withToken.port}`, subject: 'token.subject' })).result.success, true, 'a token in the URL');
});

t.test('a publish the user may not make is refused, and the connection carries on', async (t) => {
  const limited = await startNatsServer({
    config: `authorization {
      users = [
        { user: limited, password: pw, permissions: { publish: { allow: ["allowed.>", "svc.>"] }, subscribe: { allow: ["_INBOX.>"] } } }
        { user: admin, password: pw }
      ]
    }`,
  });
  t.teardown(() => limited.stop());
  const as = { url: limited.url, userName: 'limited', password: 'pw' };
  const reader = await client(limited.url, { user: 'admin', pass: 'pw' });
  const next = await receive(reader, 'allowed.x');
  t.match((await run({ ...as, subject: 'forbidden.x', message: 'no' })).result,
    { success: false, error: 'the server does not allow this connection (as user "limited") to publish to "forbidden.x" (Permissions Violation)' });
  t.match((await run({ ...as, subject: 'forbidden.y', request: 'true', timeout: '1m' })).result,
    { success: false, error: /does not allow .* to publish to "forbidden.y"/ }, 'a request is refused at once, not after its timeout');
  t.equal((await run({ ...as, subject: 'allowed.x', message: 'yes' })).result.success, true);
  t.equal(Buffer.from((await next())[0]?.data ?? []).toString(), 'yes');
});

t.test('request mode writes the reply as output', async (t) => {
  const responder = await client(open.url);
  responder.subscribe('svc.upper', { callback: (_err, m) => m.respond(Buffer.from(Buffer.from(m.data).toString().toUpperCase())) });
  responder.subscribe('svc.silent', { callback: () => {} });
  await responder.flush();
  const { result, output } = await run({ url: open.url, subject: 'svc.upper', message: 'make me loud', request: 'true', timeout: '5s' });
  t.same(result, { success: true, exitCode: 0, error: '' });
  t.equal(output, 'MAKE ME LOUD');
  t.match((await run({ url: open.url, subject: 'svc.nobody', request: 'true' })).result,
    { success: false, error: 'no responders on "svc.nobody": nothing is subscribed to answer the request' });
  t.match((await run({ url: open.url, subject: 'svc.silent', request: 'T', timeout: '300ms' })).result,
    { success: false, error: 'no reply on "svc.silent" within 300ms' });
  // Past Node's timer limit (2^31-1 ms): the connect and request timeouts must not fire at once.
  t.match(await run({ url: open.url, subject: 'svc.upper', message: 'patient', request: 'true', timeout: '600h' }),
    { result: { success: true }, output: 'PATIENT' });
});

t.test('a stop ends a run waiting for a reply', async (t) => {
  const responder = await client(open.url);
  responder.subscribe('svc.never', { callback: () => {} });
  await responder.flush();
  const ac = new AbortController();
  const running = run({ url: open.url, subject: 'svc.never', request: 'true', timeout: '1m' }, nats, ac.signal);
  setTimeout(() => ac.abort(), 50);
  t.match((await running).result, { success: false, error: 'stopped' });
});

t.test('unreachable and silent servers fail clearly', async (t) => {
  const dead = await freePort();
  t.match((await run({ url: `nats://127.0.0.1:${dead}`, subject: 'a' })).result,
    { success: false, error: `cannot reach NATS at nats://127.0.0.1:${dead}: connection refused` });
  const silent = await silentServer();
  t.match((await run({ url: silent, subject: 'a', timeout: '500ms' })).result, { success: false, error: /timed out connecting to NATS at nats:\/\/127\.0\.0\.1:\d+/ });
});

t.test('a message over the server limit fails clearly', async (t) => {
  const big = 'x'.repeat(2 * 1024 * 1024);
  t.match((await run({ url: open.url, subject: 'big', message: big })).result,
    { success: false, error: /the message \(2097152 bytes\) is larger than the server's max_payload \(1048576 bytes\)/ });
});

t.test('a lost connection is replaced by the next run', async (t) => {
  const server = await startNatsServer();
  const executor = new NatsExecutor();
  t.teardown(() => executor.close());
  t.equal((await run({ url: server.url, subject: 'a' }, executor)).result.success, true);
  await server.stop();
  t.match((await run({ url: server.url, subject: 'a' }, executor)).result, { success: false, error: /cannot reach NATS .*connection refused|lost the connection to 127\.0\.0\.1:\d+: the connection closed/ });
});

t.test('close() closes the warm connections', async (t) => {
  const executor = new NatsExecutor();
  t.equal((await run({ url: withToken.url, subject: 'a', token: 't0ken' }, executor)).result.success, true);
  const before = await withToken.connections();
  await executor.close();
  // The server sees the close asynchronously: poll with a deadline.
  const deadline = Date.now() + 10_000;
  while ((await withToken.connections()) >= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.equal(await withToken.connections(), before - 1);
});

t.test('config checks', async (t) => {
  t.equal(validateNatsConfig({ url: 'nats://a:4222,nats://b:4222', subject: 'a.b', request: 'false', timeout: '5s' }), null);
  t.match(validateNatsConfig({ subject: 'a' }), /url is required/);
  t.match(validateNatsConfig({ url: open.url }), /subject is required/);
  t.match(validateNatsConfig({ url: open.url, subject: 'has space' }), /must not contain white space/);
  t.match(validateNatsConfig({ url: open.url, subject: 'a.*' }), /no wildcards/);
  t.match(validateNatsConfig({ url: open.url, subject: 'a', request: 'yes' }), /request must be true or false, not "yes"/);
  t.match(validateNatsConfig({ url: open.url, subject: 'a', timeout: 'soon' }), /timeout must be seconds \(e.g. 30\) or a duration/);
  t.equal(validateNatsConfig({ url: open.url, subject: 'a', timeout: '10' }), null, 'bare seconds');
  t.match((await run({ url: open.url })).result, { success: false, error: 'subject is required' });
});

t.test('debug writes the config with secrets hidden', async (t) => {
  const { result, output } = await run({ url: withUser.url, subject: 'a', userName: 'scheduler', password: 's3cret', debug: 'true' });
  t.equal(result.success, true);
  t.match(output, /config: .*"password":"\*\*\*"/);
  t.notMatch(output, /s3cret/);
});

t.test('as a plugin program through the host', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ct-nats-plugin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const program = join(dir, 'clocktower-executor-nats');
  writeFileSync(program, `#!/bin/sh\nexec "${process.execPath}" "${resolve('dist/plugins/executors/nats/main.js')}" "$@"\n`);
  chmodSync(program, 0o755);
  const plugin = new PluginExecutor('nats', program);
  t.teardown(() => plugin.close());
  const reader = await client(withUser.url, { user: 'scheduler', pass: 's3cret' });
  const next = await receive(reader, 'plugin.subject');
  const ok = await run({ url: withUser.url, subject: 'plugin.subject', message: 'via the plugin', userName: 'scheduler', password: 's3cret' }, plugin);
  t.same(ok.result, { success: true, exitCode: 0, error: '' });
  t.match(ok.output, /^Result: Message successfully sent to "plugin.subject"/);
  t.equal(Buffer.from((await next())[0]?.data ?? []).toString(), 'via the plugin');
  t.match((await run({ url: withUser.url, subject: 'plugin.subject', userName: 'scheduler', password: 'bad' }, plugin)).result,
    { success: false, error: /refused the connection as user "scheduler"/ });
});
