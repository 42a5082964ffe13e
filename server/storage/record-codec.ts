// One log record on disk: [u32 body length][u32 crc32(body)][body], body =
// [f64 term][f64 index][u8 type][data]. Little-endian; f64 holds integers
// exactly up to 2^53.
//
// Every write to a segment starts with a batch marker: a record of type 255
// (no entry type) whose data is [u32 bytes of the records that follow in the
// same write]. Recovery uses it to tell the last write, which a crash may
// leave partial, from everything before it, which was synced whole.

import { crc32 } from 'node:zlib';
import type { Entry, EntryType } from '../raft/types.js';

export const headerBytes = 8;
const fixedBody = 17;
const markerType = 255;
const markerBody = fixedBody + 4;
/** Size on disk of a batch marker. */
export const markerBytes = headerBytes + markerBody;

function encode(term: number, index: number, type: number, data: Uint8Array): Buffer {
  const body = fixedBody + data.length;
  const buf = Buffer.allocUnsafe(headerBytes + body);
  buf.writeUInt32LE(body, 0);
  buf.writeDoubleLE(term, 8);
  buf.writeDoubleLE(index, 16);
  buf.writeUInt8(type, 24);
  buf.set(data, 25);
  buf.writeUInt32LE(crc32(buf.subarray(8)), 4);
  return buf;
}

export function encodeRecord(e: Entry): Buffer {
  return encode(e.term, e.index, e.type, e.data);
}

/** The marker that opens a write of `bytes` bytes of records, the first with index `firstIndex`. */
export function encodeBatchMarker(firstIndex: number, bytes: number): Buffer {
  const data = Buffer.allocUnsafe(4);
  data.writeUInt32LE(bytes, 0);
  return encode(0, firstIndex, markerType, data);
}

export type Decoded =
  | { readonly ok: true; readonly kind: 'entry'; readonly entry: Entry; readonly next: number }
  /** A batch marker: `bytes` of records follow it, the first with index `firstIndex`. */
  | { readonly ok: true; readonly kind: 'batch'; readonly firstIndex: number; readonly bytes: number; readonly next: number }
  /** `partial`: the record runs past the end of the buffer. */
  | { readonly ok: false; readonly partial: boolean; readonly reason: string };

export function decodeRecord(buf: Buffer, offset: number): Decoded {
  if (offset + headerBytes > buf.length) return { ok: false, partial: true, reason: 'truncated record header' };
  const len = buf.readUInt32LE(offset);
  if (len < fixedBody) return { ok: false, partial: false, reason: `impossible record length ${len}` };
  const end = offset + headerBytes + len;
  if (end > buf.length) return { ok: false, partial: true, reason: `record length ${len} runs past the end of the file` };
  const body = buf.subarray(offset + headerBytes, end);
  if (crc32(body) !== buf.readUInt32LE(offset + 4)) return { ok: false, partial: false, reason: 'checksum mismatch' };
  const type = body.readUInt8(16);
  if (type === markerType) {
    if (len !== markerBody) return { ok: false, partial: false, reason: `batch marker of length ${len}` };
    return { ok: true, kind: 'batch', firstIndex: body.readDoubleLE(8), bytes: body.readUInt32LE(fixedBody), next: end };
  }
  const entry: Entry = {
    term: body.readDoubleLE(0),
    index: body.readDoubleLE(8),
    type: type as EntryType,
    data: Uint8Array.prototype.slice.call(body, fixedBody),
  };
  return { ok: true, kind: 'entry', entry, next: end };
}

/** Whether a whole, valid batch marker starts anywhere after `offset` (a cheap scan: markers have a fixed length and type). */
export function markerAfter(buf: Buffer, offset: number): number | null {
  for (let o = offset + 1; o + markerBytes <= buf.length; o++) {
    if (buf.readUInt32LE(o) !== markerBody || buf[o + 24] !== markerType) continue;
    const r = decodeRecord(buf, o);
    if (r.ok && r.kind === 'batch') return o;
  }
  return null;
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
