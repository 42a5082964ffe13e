// Real receivers on 127.0.0.1 for the processor tests: a syslog server over
// UDP and over TCP (both RFC 6587 framings), and a Fluentd forward-protocol
// server that decodes what it gets. Each collects what arrives and lets a
// test wait for it without sleeping.

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Reader, type Decoded } from './msgpack-decode.js';

/** Collected items, and a way to wait until there are enough of them. */
export class Inbox<T> {
  readonly items: T[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];

  push(item: T): void {
    this.items.push(item);
    this.waiters = this.waiters.filter((w) => {
      if (this.items.length < w.n) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once `n` items have arrived; rejects after `ms` saying what is missing. */
  async atLeast(n: number, ms = 10_000): Promise<T[]> {
    if (this.items.length < n) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.waiters.push({ n, resolve })),
        new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`got ${this.items.length} of ${n} within ${ms} ms`)), ms); }),
      ]).finally(() => clearTimeout(timer));
    }
    return this.items;
  }
}

export interface Receiver<T> {
  readonly port: number;
  readonly inbox: Inbox<T>;
  close(): Promise<void>;
}

export async function udpSyslog(): Promise<Receiver<string>> {
  const socket: UdpSocket = createSocket('udp4');
  const inbox = new Inbox<string>();
  socket.on('message', (m) => inbox.push(m.toString('utf8')));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, inbox, close: () => new Promise((resolve) => socket.close(() => resolve())) };
}

/** A TCP syslog server; it reads RFC 6587 octet-counted frames, or LF-terminated ones with `framing: 'newline'`. */
export async function tcpSyslog(framing: 'octet-counting' | 'newline' = 'octet-counting'): Promise<Receiver<string>> {
  const inbox = new Inbox<string>();
  return listen(inbox, (socket) => {
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (framing === 'newline') {
          const lf = buf.indexOf(0x0a);
          if (lf < 0) break;
          inbox.push(buf.subarray(0, lf).toString('utf8'));
          buf = buf.subarray(lf + 1);
        } else {
          const sp = buf.indexOf(0x20);
          if (sp < 0) break;
          const len = Number(buf.subarray(0, sp).toString('ascii'));
          if (!Number.isInteger(len)) throw new Error(`bad octet count ${JSON.stringify(buf.subarray(0, sp).toString())}`);
          if (buf.length < sp + 1 + len) break;
          inbox.push(buf.subarray(sp + 1, sp + 1 + len).toString('utf8'));
          buf = buf.subarray(sp + 1 + len);
        }
      }
    });
    socket.on('end', () => socket.end());
  });
}

/**
 * A Fluentd forward-protocol server: every decoded top-level msgpack value
 * is one item. A message that asks for an ack ([tag, time, record,
 * {chunk}]) is answered {"ack": chunk} — or, with `acks: 'wrong'`, with
 * another chunk, with `acks: 'never'`, not at all, and with `acks:
 * 'hang-up'`, by closing the connection.
 */
export async function fluentForward(acks: 'right' | 'wrong' | 'never' | 'hang-up' = 'right'): Promise<Receiver<Decoded>> {
  const inbox = new Inbox<Decoded>();
  return listen(inbox, (socket) => {
    let buf = Buffer.alloc(0);
    socket.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      for (;;) {
        const r = new Reader(buf);
        let value: Decoded;
        try {
          value = r.read();
        } catch (err) {
          if (err instanceof RangeError) return; // wait for the rest
          throw err;
        }
        buf = buf.subarray(r.offset);
        inbox.push(value);
        const chunk = Array.isArray(value) ? (value[3] as { chunk?: string } | undefined)?.chunk : undefined;
        if (chunk === undefined || acks === 'never') continue;
        if (acks === 'hang-up') socket.end();
        else socket.write(ackOf(acks === 'right' ? chunk : 'not-your-chunk'));
      }
    });
    socket.on('end', () => socket.end());
  });
}

/** {"ack": chunk} in msgpack (chunk shorter than 32 bytes). */
function ackOf(chunk: string): Buffer {
  return Buffer.concat([Buffer.of(0x81, 0xa3), Buffer.from('ack'), Buffer.of(0xa0 | chunk.length), Buffer.from(chunk)]);
}

async function listen<T>(inbox: Inbox<T>, onConnection: (socket: Socket) => void): Promise<Receiver<T>> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    inbox,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}


/** An RFC 5424 message taken apart. */
export interface ParsedSyslog {
  pri: number;
  version: string;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  sdId: string;
  params: Record<string, string>;
  message: string;
}

export function parseRfc5424(line: string): ParsedSyslog {
  const m = /^<(\d{1,3})>(\d) (\S+) (\S+) (\S+) (\S+) (\S+) \[([^ \]]+)((?: [^=]+="(?:[^"\\]|\\.)*")*)\] ?([\s\S]*)$/.exec(line);
  if (!m) throw new Error(`not RFC 5424: ${JSON.stringify(line)}`);
  const params: Record<string, string> = {};
  for (const p of (m[9] ?? '').matchAll(/ ([^=]+)="((?:[^"\\]|\\.)*)"/g)) params[p[1] ?? ''] = (p[2] ?? '').replace(/\\(.)/g, '$1');
  return {
    pri: Number(m[1]), version: m[2] ?? '', timestamp: m[3] ?? '', hostname: m[4] ?? '', appName: m[5] ?? '', procId: m[6] ?? '',
    msgId: m[7] ?? '', sdId: m[8] ?? '', params, message: m[10] ?? '',
  };
}
