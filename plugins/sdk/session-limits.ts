// The Session stream's sizes, shared by both ends (plugins/sdk/serve-session.ts,
// plugins/sdk/plugin-session.ts). A plugin in another language need not use
// these numbers: it obeys the credit the host grants.

import { chunksOf } from '../../common/chunks.js';

/** Output is sent in chunks of at most this many bytes (on Execute too). */
export const maxChunkBytes = 64 * 1024;
/** Output the host lets a plugin have in flight per execution before it grants more. */
export const creditWindowBytes = 1024 * 1024;
/** The host grants credit again once it has consumed this much of an execution's output. */
export const creditEveryBytes = 256 * 1024;
/** A plugin's SessionEvent carries at most this much output data (well under gRPC's 4 MiB receive default). */
export const maxMessageDataBytes = 1024 * 1024;

/** `data` in chunks of at most maxChunkBytes, each a Buffer of its own (copied: the caller may reuse `data`). */
export function outputChunks(data: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += maxChunkBytes) out.push(Buffer.from(data.subarray(i, i + maxChunkBytes)));
  return out;
}

/**
 * `entries` in order, cut into messages of at most maxMessageDataBytes by
 * `sizeOf` (one entry larger than that goes alone): what one turn queued, in
 * as few messages as the cap allows.
 */
export function inMessages<T>(entries: readonly T[], sizeOf: (entry: T) => number): T[][] {
  return chunksOf(entries, sizeOf, maxMessageDataBytes);
}
