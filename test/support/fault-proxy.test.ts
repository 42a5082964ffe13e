// The fault proxy forwards, cuts open connections on block(), refuses or
// swallows new ones while blocked, and forwards again after unblock().
import t from 'tap';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { startFaultProxy } from './fault-proxy.js';
import { until } from './light-process.js';

async function echoServer(t: { teardown(fn: () => unknown): void }): Promise<{ address: string; connections: () => number }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('no address');
  return { address: `127.0.0.1:${a.port}`, connections: () => connections };
}

interface Client {
  readonly socket: Socket;
  readonly closed: Promise<void>;
  data(): string;
}

function client(address: string): Client {
  const i = address.lastIndexOf(':');
  const socket = connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
  let data = '';
  socket.on('data', (b: Buffer) => (data += b.toString()));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, closed, data: () => data };
}

async function echoes(address: string, text: string): Promise<void> {
  const c = client(address);
  c.socket.write(text);
  await until(`echo of ${text}`, async () => (c.data() === text ? true : undefined), 5000);
  c.socket.destroy();
}

t.test('forwards, refuses while blocked, forwards again', async (t) => {
  const echo = await echoServer(t);
  const proxy = await startFaultProxy(echo.address);
  t.teardown(() => proxy.close());
  await echoes(proxy.address, 'hello');

  const open = client(proxy.address);
  open.socket.write('before');
  await until('echo', async () => (open.data() === 'before' ? true : undefined), 5000);
  proxy.block();
  await open.closed;
  t.pass('block() cut the open connection');

  const refused = client(proxy.address);
  refused.socket.write('nobody hears this');
  await refused.closed;
  t.equal(refused.data(), '', 'a new connection is refused');
  t.equal(proxy.stats().refused, 1);

  proxy.unblock();
  await echoes(proxy.address, 'again');
  t.equal(echo.connections(), 3, 'three connections reached the target');
  t.equal(proxy.stats().forwarded, 3);
});

t.test('blackhole mode swallows new connections until unblock()', async (t) => {
  const echo = await echoServer(t);
  const proxy = await startFaultProxy(echo.address, { mode: 'blackhole' });
  t.teardown(() => proxy.close());
  proxy.block();
  const held = client(proxy.address);
  held.socket.write('into the void');
  await until('the proxy to hold it', async () => (proxy.stats().held === 1 ? true : undefined), 5000);
  t.equal(echo.connections(), 0, 'nothing reached the target');

  proxy.unblock();
  await held.closed;
  t.equal(held.data(), '', 'no answer ever came');
  await until('the proxy to let go', async () => (proxy.stats().held === 0 ? true : undefined), 5000);
  await echoes(proxy.address, 'through');
  t.equal(echo.connections(), 1);
});

t.test('close() ends everything', async (t) => {
  const echo = await echoServer(t);
  const proxy = await startFaultProxy(echo.address);
  const c = client(proxy.address);
  c.socket.write('x');
  await until('echo', async () => (c.data() === 'x' ? true : undefined), 5000);
  await proxy.close();
  await c.closed;
  t.pass('closed');
});
