// For processors that deliver to a TCP receiver (syslog, Fluentd): connect,
// write everything, close, and settle once the connection is closed. The
// receiver's closing after ours is the only sign that nothing went wrong
// (a reset or refusal rejects); one that keeps the connection open gets a
// moment, then we close it. Aborting `signal` destroys the connection.

import { connect } from 'node:net';

const closeGraceMs = 1000;

export function sendOverTcp(host: string, port: number, data: Uint8Array, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      return;
    }
    const socket = connect({ host, port });
    const onAbort = () => socket.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    let failure: Error | null = null;
    socket.once('error', (err) => { failure = err; });
    socket.once('close', () => {
      signal.removeEventListener('abort', onAbort);
      if (failure) reject(failure);
      else resolve();
    });
    socket.once('connect', () => socket.end(data));
    socket.on('data', () => {});
    socket.once('finish', () => {
      const timer = setTimeout(() => socket.destroy(), closeGraceMs);
      socket.once('close', () => clearTimeout(timer));
    });
  });
}
