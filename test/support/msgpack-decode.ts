// A MessagePack decoder for tests, written from the spec independently of
// the fluent processor's encoder. EventTime (ext type 0) decodes to
// { eventTime: [seconds, nanoseconds] }.

export type Decoded = null | boolean | number | bigint | string | Buffer | { eventTime: [number, number] } | { ext: number; data: Buffer } | Decoded[] | { [key: string]: Decoded };

export class Reader {
  offset = 0;
  constructor(readonly buf: Buffer) {}

  get done(): boolean {
    return this.offset >= this.buf.length;
  }

  /** One value, or throws RangeError when the buffer ends inside it. */
  read(): Decoded {
    const b = this.byte();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if ((b & 0xf0) === 0x80) return this.map(b & 0x0f);
    if ((b & 0xf0) === 0x90) return this.array(b & 0x0f);
    if ((b & 0xe0) === 0xa0) return this.take(b & 0x1f).toString('utf8');
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return Buffer.from(this.take(this.uint(1)));
      case 0xc5: return Buffer.from(this.take(this.uint(2)));
      case 0xc6: return Buffer.from(this.take(this.uint(4)));
      case 0xca: return this.take(4).readFloatBE(0);
      case 0xcb: return this.take(8).readDoubleBE(0);
      case 0xcc: return this.uint(1);
      case 0xcd: return this.uint(2);
      case 0xce: return this.uint(4);
      case 0xcf: { const v = this.take(8).readBigUInt64BE(0); return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v; }
      case 0xd0: return this.take(1).readInt8(0);
      case 0xd1: return this.take(2).readInt16BE(0);
      case 0xd2: return this.take(4).readInt32BE(0);
      case 0xd3: { const v = this.take(8).readBigInt64BE(0); return v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v; }
      case 0xd4: return this.ext(1);
      case 0xd5: return this.ext(2);
      case 0xd6: return this.ext(4);
      case 0xd7: return this.ext(8);
      case 0xd8: return this.ext(16);
      case 0xd9: return this.take(this.uint(1)).toString('utf8');
      case 0xda: return this.take(this.uint(2)).toString('utf8');
      case 0xdb: return this.take(this.uint(4)).toString('utf8');
      case 0xdc: return this.array(this.uint(2));
      case 0xdd: return this.array(this.uint(4));
      case 0xde: return this.map(this.uint(2));
      case 0xdf: return this.map(this.uint(4));
      default: throw new Error(`msgpack: unexpected byte 0x${b.toString(16)} at ${this.offset - 1}`);
    }
  }

  private byte(): number {
    return this.uint(1);
  }

  private take(n: number): Buffer {
    if (this.offset + n > this.buf.length) throw new RangeError('msgpack: truncated');
    const out = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  private uint(n: 1 | 2 | 4): number {
    return this.take(n).readUIntBE(0, n);
  }

  private ext(n: number): Decoded {
    const type = this.take(1).readInt8(0);
    const data = Buffer.from(this.take(n));
    if (type === 0 && n === 8) return { eventTime: [data.readUInt32BE(0), data.readUInt32BE(4)] };
    return { ext: type, data };
  }

  private array(n: number): Decoded[] {
    return Array.from({ length: n }, () => this.read());
  }

  private map(n: number): { [key: string]: Decoded } {
    const out: { [key: string]: Decoded } = {};
    for (let i = 0; i < n; i++) {
      const k = this.read();
      out[String(k)] = this.read();
    }
    return out;
  }
}

export function decodeAll(buf: Buffer): Decoded[] {
  const r = new Reader(buf);
  const out: Decoded[] = [];
  while (!r.done) out.push(r.read());
  return out;
}
