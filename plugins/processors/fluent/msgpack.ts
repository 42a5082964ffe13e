// A small MessagePack encoder for the few types the Fluentd forward
// protocol needs: nil, booleans, integers, floats, strings, binary, arrays,
// maps with string keys, and the EventTime extension (type 0).

export class EventTime {
  constructor(readonly seconds: number, readonly nanoseconds: number) {}

  static fromMs(ms: number): EventTime {
    const seconds = Math.floor(ms / 1000);
    return new EventTime(seconds, Math.round((ms - seconds * 1000) * 1e6));
  }
}

export type Value = null | boolean | number | string | Uint8Array | EventTime | readonly Value[] | { readonly [key: string]: Value };

export function encode(value: Value): Buffer {
  const parts: Buffer[] = [];
  write(value, parts);
  return Buffer.concat(parts);
}

function write(v: Value, out: Buffer[]): void {
  if (v === null) out.push(Buffer.of(0xc0));
  else if (typeof v === 'boolean') out.push(Buffer.of(v ? 0xc3 : 0xc2));
  else if (typeof v === 'number') out.push(Number.isInteger(v) ? int(v) : float(v));
  else if (typeof v === 'string') str(v, out);
  else if (v instanceof Uint8Array) bin(v, out);
  else if (v instanceof EventTime) {
    const b = Buffer.alloc(10);
    b[0] = 0xd7;
    b[1] = 0x00;
    b.writeUInt32BE(v.seconds, 2);
    b.writeUInt32BE(v.nanoseconds, 6);
    out.push(b);
  } else if (Array.isArray(v)) {
    out.push(lengthHeader(v.length, 0x90, 0xdc, 0xdd));
    for (const item of v as readonly Value[]) write(item, out);
  } else {
    const entries = Object.entries(v as { readonly [key: string]: Value });
    out.push(lengthHeader(entries.length, 0x80, 0xde, 0xdf));
    for (const [k, item] of entries) {
      str(k, out);
      write(item, out);
    }
  }
}

/** fix (when under 16) / 16-bit / 32-bit length header of arrays and maps. */
function lengthHeader(n: number, fix: number, b16: number, b32: number): Buffer {
  if (n < 16) return Buffer.of(fix | n);
  if (n < 0x10000) return Buffer.of(b16, n >> 8, n & 0xff);
  const b = Buffer.alloc(5);
  b[0] = b32;
  b.writeUInt32BE(n, 1);
  return b;
}

function int(n: number): Buffer {
  if (!Number.isSafeInteger(n)) return float(n);
  if (n >= 0) {
    if (n < 0x80) return Buffer.of(n);
    if (n < 0x100) return Buffer.of(0xcc, n);
    if (n < 0x10000) return Buffer.of(0xcd, n >> 8, n & 0xff);
    if (n < 0x100000000) {
      const b = Buffer.alloc(5);
      b[0] = 0xce;
      b.writeUInt32BE(n, 1);
      return b;
    }
    const b = Buffer.alloc(9);
    b[0] = 0xcf;
    b.writeBigUInt64BE(BigInt(n), 1);
    return b;
  }
  if (n >= -32) return Buffer.of(n & 0xff);
  if (n >= -0x80) return Buffer.of(0xd0, n & 0xff);
  if (n >= -0x8000) {
    const b = Buffer.alloc(3);
    b[0] = 0xd1;
    b.writeInt16BE(n, 1);
    return b;
  }
  if (n >= -0x80000000) {
    const b = Buffer.alloc(5);
    b[0] = 0xd2;
    b.writeInt32BE(n, 1);
    return b;
  }
  const b = Buffer.alloc(9);
  b[0] = 0xd3;
  b.writeBigInt64BE(BigInt(n), 1);
  return b;
}

function float(n: number): Buffer {
  const b = Buffer.alloc(9);
  b[0] = 0xcb;
  b.writeDoubleBE(n, 1);
  return b;
}

function str(s: string, out: Buffer[]): void {
  const data = Buffer.from(s, 'utf8');
  const n = data.length;
  if (n < 32) out.push(Buffer.of(0xa0 | n));
  else if (n < 0x100) out.push(Buffer.of(0xd9, n));
  else if (n < 0x10000) out.push(Buffer.of(0xda, n >> 8, n & 0xff));
  else {
    const h = Buffer.alloc(5);
    h[0] = 0xdb;
    h.writeUInt32BE(n, 1);
    out.push(h);
  }
  out.push(data);
}

function bin(data: Uint8Array, out: Buffer[]): void {
  const n = data.length;
  if (n < 0x100) out.push(Buffer.of(0xc4, n));
  else if (n < 0x10000) out.push(Buffer.of(0xc5, n >> 8, n & 0xff));
  else {
    const h = Buffer.alloc(5);
    h[0] = 0xc6;
    h.writeUInt32BE(n, 1);
    out.push(h);
  }
  out.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
}

/**
 * Decode a map whose keys and values are all strings (a forward-protocol
 * ack is {"ack": chunk}). Returns null while `buf` holds only part of it;
 * throws when it is something else.
 */
export function decodeStringMap(buf: Buffer): { map: Record<string, string>; length: number } | null {
  let at = 0;
  const need = (n: number) => at + n <= buf.length;
  const head = (): number | null => {
    if (!need(1)) return null;
    const b = buf[at++] as number;
    if ((b & 0xf0) === 0x80) return b & 0x0f;
    if (b === 0xde) return need(2) ? buf.readUInt16BE((at += 2) - 2) : null;
    if (b === 0xdf) return need(4) ? buf.readUInt32BE((at += 4) - 4) : null;
    throw new Error(`expected a msgpack map, got byte 0x${b.toString(16)}`);
  };
  const string = (): string | null => {
    if (!need(1)) return null;
    const b = buf[at++] as number;
    let n: number;
    if ((b & 0xe0) === 0xa0) n = b & 0x1f;
    else if (b === 0xd9) { if (!need(1)) return null; n = buf[at++] as number; }
    else if (b === 0xda) { if (!need(2)) return null; n = buf.readUInt16BE(at); at += 2; }
    else if (b === 0xdb) { if (!need(4)) return null; n = buf.readUInt32BE(at); at += 4; }
    else throw new Error(`expected a msgpack string, got byte 0x${b.toString(16)}`);
    if (!need(n)) return null;
    at += n;
    return buf.subarray(at - n, at).toString('utf8');
  };
  const n = head();
  if (n === null) return null;
  const map: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    const k = string();
    if (k === null) return null;
    const v = string();
    if (v === null) return null;
    map[k] = v;
  }
  return { map, length: at };
}
