// A port on 127.0.0.1 that nothing listens on (bound, then released): for a
// server a test is about to start, or for a peer that is not there.
//
// Picked below the kernel's ephemeral range (32768 and up on Linux): a port
// the kernel hands out for `listen(0)` is in that range, where any outgoing
// connection of another test may take it before our server binds it
// (EADDRINUSE at start). Below it only listeners compete, and a random pick
// among 20,000 ports, checked free, makes two test files' picks meet rarely.

import { createServer } from 'node:net';

const low = 10_000;
const high = 30_000;
/** Handed out by this process already: not again. */
const given = new Set<number>();

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (given.has(port)) continue;
    if (await bindable(port)) {
      given.add(port);
      return port;
    }
  }
  throw new Error(`no free port found between ${low} and ${high}`);
}

async function bindable(port: number): Promise<boolean> {
  const server = createServer();
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (ok) await new Promise<void>((resolve) => server.close(() => resolve()));
  return ok;
}
