// One log record on disk: [u32 body length][u32 crc32(body)][body], body =
// [f64 term][f64 index][u8 type][data]. Little-endian; f64 holds integers
// exactly up to 2^53.

import { crc32 } from 'node:zlib';
import type { Entry, EntryType } from '../raft/types.js';

export const headerBytes = 8;
const fixedBody = 17;

export function encodeRecord(e: Entry): Buffer {
  const body = fixedBody + e.data.length;
  const buf = Buffer.allocUnsafe(headerBytes + body);
  buf.writeUInt32LE(body, 0);
  buf.writeDoubleLE(e.term, 8);
  buf.writeDoubleLE(e.index, 16);
  buf.writeUInt8(e.type, 24);
  buf.set(e.data, 25);
  buf.writeUInt32LE(crc32(buf.subarray(8)), 4);
  return buf;
}

export type Decoded =
  | { readonly ok: true; readonly entry: Entry; readonly next: number }
  /** `partial`: the record runs past the end of the buffer. */
  | { readonly ok: false; readonly partial: boolean; readonly reason: string };

export function decodeRecord(buf: Buffer, offset: number): Decoded {
  if (offset + headerBytes > buf.length) return { ok: false, partial: true, reason: 'truncated record header' };
  const len = buf.readUInt32LE(offset);
  if (len < fixedBody) return { ok: false, partial: false, reason: `impossible record length ${len}` };
  const end = offset + headerBytes + len;
  if (end > buf.length) return { ok: false, partial: true, reason: 'record runs past the end of the file' };
  const body = buf.subarray(offset + headerBytes, end);
  if (crc32(body) !== buf.readUInt32LE(offset + 4)) return { ok: false, partial: false, reason: 'checksum mismatch' };
  const entry: Entry = {
    term: body.readDoubleLE(0),
    index: body.readDoubleLE(8),
    type: body.readUInt8(16) as EntryType,
    data: Uint8Array.prototype.slice.call(body, fixedBody),
  };
  return { ok: true, entry, next: end };
}

/** A checksummed blob for small files (hard state, snapshots): [u32 crc32][payload]. */
export function sealBlob(payload: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(4 + payload.length);
  buf.set(payload, 4);
  buf.writeUInt32LE(crc32(payload), 0);
  return buf;
}

export function openBlob(buf: Buffer): Buffer | null {
  if (buf.length < 4) return null;
  const payload = buf.subarray(4);
  return crc32(payload) === buf.readUInt32LE(0) ? payload : null;
}
