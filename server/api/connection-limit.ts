// A cap on open API connections that keeps the API answering: at the cap, a
// new connection evicts the oldest one that has no request being answered
// (a slow-header or slow-body client, or an idle keep-alive socket), so held
// sockets can never lock out /health or a real client. Without a cap, a few
// hundred held sockets under a low `ulimit -n` left no descriptor to accept with.

import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/** Half the soft limit on open files (the rest is for the log, plugins and peers), at most 10,000. */
export function defaultMaxConnections(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.split(/\s+/)[3]);
    if (Number.isFinite(soft) && soft > 0) return Math.max(16, Math.min(10_000, Math.floor(soft / 2)));
  } catch {
    // not Linux
  }
  return 1000;
}

export class ConnectionLimit {
  /** Open connections with no request being answered, oldest first. */
  private readonly evictable = new Set<Socket>();
  private open = 0;

  constructor(server: Server, readonly max: number) {
    server.on('connection', (socket: Socket) => {
      this.open++;
      this.evictable.add(socket);
      socket.once('close', () => {
        this.open--;
        this.evictable.delete(socket);
      });
      if (this.open <= max) return;
      for (const victim of this.evictable) {
        if (victim === socket) continue;
        this.evictable.delete(victim);
        victim.destroy();
        return;
      }
      // Every other connection is being answered: this one waits its turn elsewhere.
      socket.destroy();
    });
  }

  /** A request on `socket` has been read whole and is being answered: not evictable until it is. */
  answering(socket: Socket): void {
    this.evictable.delete(socket);
  }

  /** The answer on `socket` is written: it is idle (and now the newest) until its next request. */
  answered(socket: Socket): void {
    if (!socket.destroyed) this.evictable.add(socket);
  }
}
