// A TCP proxy for end-to-end tests that can cut a link: put it between two
// servers, then block() to drop every open connection and refuse new ones
// (mode 'refuse': accepted and reset at once) or swallow them (mode
// 'blackhole': accepted, read and never answered, until unblock() drops them),
// and unblock() to let connections through again. freeze() makes a
// half-open link: open connections stay open but nothing passes either way,
// and new ones go into the black hole, until unblock() drops them all.

import { createConnection, createServer, type Socket } from 'node:net';

export interface FaultProxyStats {
  /** Connections forwarded to the target so far. */
  readonly forwarded: number;
  /** Connections reset while blocked (mode 'refuse'). */
  readonly refused: number;
  /** Connections held open without an answer right now (mode 'blackhole'). */
  readonly held: number;
}

export interface FaultProxy {
  /** host:port to connect to instead of the target. */
  readonly address: string;
  block(): void;
  /** Open connections go silent (not closed); new ones are swallowed. */
  freeze(): void;
  unblock(): void;
  stats(): FaultProxyStats;
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  /** What block() does to new connections (default 'refuse'). */
  readonly mode?: 'refuse' | 'blackhole';
}

function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port)) throw new Error(`${address} is not host:port`);
  return { host: address.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port };
}

export async function startFaultProxy(target: string, options: FaultProxyOptions = {}): Promise<FaultProxy> {
  const mode = options.mode ?? 'refuse';
  const upstream = splitHostPort(target);
  /** Every open socket (both ends of forwarded connections). */
  const open = new Set<Socket>();
  const held = new Set<Socket>();
  let blocked = false;
  let frozen = false;
  const pairs = new Set<{ client: Socket; server: Socket }>();
  let forwarded = 0;
  let refused = 0;

  const track = (socket: Socket, set: Set<Socket>) => {
    set.add(socket);
    socket.once('close', () => set.delete(socket));
  };

  const server = createServer({ noDelay: true }, (client) => {
    client.on('error', () => {});
    if (blocked || frozen) {
      if (mode === 'refuse' && !frozen) {
        refused++;
        client.resetAndDestroy();
      } else {
        track(client, held);
        client.resume(); // read and discard
      }
      return;
    }
    forwarded++;
    const server = createConnection({ host: upstream.host, port: upstream.port, noDelay: true });
    server.on('error', () => {});
    track(client, open);
    track(server, open);
    client.once('close', () => server.destroy());
    server.once('close', () => client.destroy());
    client.pipe(server);
    server.pipe(client);
    const pair = { client, server };
    pairs.add(pair);
    client.once('close', () => pairs.delete(pair));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const bound = server.address();
  if (bound === null || typeof bound === 'string') throw new Error('fault proxy: no TCP address');

  return {
    address: `127.0.0.1:${bound.port}`,
    block() {
      blocked = true;
      for (const s of open) s.resetAndDestroy();
    },
    freeze() {
      frozen = true;
      for (const { client, server } of pairs) {
        client.unpipe(server);
        server.unpipe(client);
        // Read and drop: the peer's writes succeed, nothing arrives.
        client.removeAllListeners('data');
        server.removeAllListeners('data');
        client.on('data', () => {});
        server.on('data', () => {});
        open.delete(client);
        open.delete(server);
        track(client, held);
        track(server, held);
      }
      pairs.clear();
    },
    unblock() {
      blocked = false;
      frozen = false;
      // Whoever connected into the black hole sees the connection drop and retries.
      for (const s of held) s.resetAndDestroy();
    },
    stats: () => ({ forwarded, refused, held: held.size }),
    async close() {
      for (const s of [...open, ...held]) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
