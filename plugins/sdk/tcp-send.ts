// For processors that deliver to a TCP receiver (syslog, Fluentd): connect,
// write everything, close, and settle once the connection is closed. The
// receiver's closing after ours is the only sign that nothing went wrong
// (a reset or refusal rejects); one that keeps the connection open gets a
// moment, then we close it. With `reply`, the receiver must first answer
// (e.g. a Fluentd ack) before we close. Aborting `signal` destroys the
// connection.

import { connect } from 'node:net';

const closeGraceMs = 1000;

export interface TcpSendOptions {
  /**
   * Called with everything received so far: true once the answer is
   * complete, false while more is to come; throws if it is wrong.
   */
  readonly reply?: (received: Buffer) => boolean;
}

export function sendOverTcp(host: string, port: number, data: Uint8Array, signal: AbortSignal, options: TcpSendOptions = {}): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      return;
    }
    const { reply } = options;
    const socket = connect({ host, port });
    const onAbort = () => socket.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    let failure: Error | null = null;
    let answered = reply === undefined;
    let received = Buffer.alloc(0);
    socket.once('error', (err) => { failure = err; });
    socket.once('close', () => {
      signal.removeEventListener('abort', onAbort);
      if (failure) reject(failure);
      else if (!answered) reject(new Error('the receiver closed the connection without answering'));
      else resolve();
    });
    socket.once('connect', () => {
      if (answered) socket.end(data);
      else socket.write(data);
    });
    socket.on('data', (chunk: Buffer) => {
      if (answered || !reply) return;
      received = Buffer.concat([received, chunk]);
      try {
        answered = reply(received);
      } catch (err) {
        socket.destroy(err as Error);
        return;
      }
      if (answered) socket.end();
    });
    socket.once('finish', () => {
      const timer = setTimeout(() => socket.destroy(), closeGraceMs);
      socket.once('close', () => clearTimeout(timer));
    });
  });
}
