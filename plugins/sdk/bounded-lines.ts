// Lines read from a plugin's stdout or stderr, each at most `maxBytes` long.
// readline keeps a line in memory until its newline: a plugin printing 512 MB
// without one took the host down with "Invalid string length". Here a longer
// line is cut: its first `maxBytes` are delivered, marked, and the rest up to
// the next newline is dropped.

import type { Readable } from 'node:stream';

export const defaultMaxLineBytes = 64 * 1024;

export interface BoundedLines {
  /** Every whole (or cut) line, without its newline. */
  onLine(listener: (line: string, cut: boolean) => void): void;
  /** Stop delivering lines (the stream is still drained). */
  close(): void;
}

export function boundedLines(input: Readable, maxBytes = defaultMaxLineBytes): BoundedLines {
  const listeners: ((line: string, cut: boolean) => void)[] = [];
  let parts: Buffer[] = [];
  let size = 0;
  let dropping = false;
  let closed = false;
  const emit = (line: Buffer, cut: boolean) => {
    if (closed) return;
    const text = line.toString('utf8').replace(/\r$/, '');
    for (const l of [...listeners]) l(text, cut);
  };
  input.on('data', (chunk: Buffer) => {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!dropping) {
        const room = maxBytes - size;
        const piece = chunk.subarray(start, Math.min(end, start + room));
        parts.push(piece);
        size += piece.length;
        if (end - start > room) {
          emit(Buffer.concat(parts, size), true);
          parts = [];
          size = 0;
          dropping = true;
        }
      }
      if (nl === -1) break;
      if (!dropping) emit(Buffer.concat(parts, size), false);
      parts = [];
      size = 0;
      dropping = false;
      start = nl + 1;
    }
  });
  input.on('end', () => {
    if (size > 0 && !dropping) emit(Buffer.concat(parts, size), false);
    parts = [];
    size = 0;
  });
  return {
    onLine: (listener) => void listeners.push(listener),
    close: () => {
      closed = true;
    },
  };
}
