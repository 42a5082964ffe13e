// The last `limit` bytes of a stream of chunks, in one ring buffer of at most
// `limit` bytes (grown as bytes arrive), never in the chunks themselves: memory
// stays bounded however many chunks, of whatever size, arrive. The agent keeps
// an execution's output this way, and so does the server.

export class ByteTail {
  private ring: Buffer = Buffer.alloc(0);
  /** Where the oldest kept byte is in `ring`. */
  private start = 0;
  private size = 0;
  /** Bytes written in all. */
  total = 0;

  constructor(private limitBytes: number) {}

  get limit(): number {
    return this.limitBytes;
  }

  /** Bytes kept now. */
  get length(): number {
    return this.size;
  }

  /** Some bytes written are no longer kept. */
  get dropped(): boolean {
    return this.total > this.size;
  }

  /** Keep at most `limit` bytes from now on (the newest of those kept so far). */
  setLimit(limit: number): void {
    if (limit === this.limitBytes) return;
    const kept = this.bytes();
    this.limitBytes = limit;
    const tail = kept.subarray(Math.max(0, kept.length - limit));
    this.ring = Buffer.from(tail);
    this.start = 0;
    this.size = tail.length;
  }

  write(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.total += chunk.length;
    const limit = this.limitBytes;
    if (limit <= 0) return;
    if (chunk.length >= limit) {
      if (this.ring.length !== limit) this.ring = Buffer.alloc(limit);
      this.ring.set(chunk.subarray(chunk.length - limit));
      this.start = 0;
      this.size = limit;
      return;
    }
    if (this.size + chunk.length > this.ring.length && this.ring.length < limit) {
      const next = Buffer.alloc(Math.min(limit, Math.max(this.size + chunk.length, this.ring.length * 2, 4096)));
      this.bytes().copy(next);
      this.ring = next;
      this.start = 0;
    }
    const cap = this.ring.length;
    const over = this.size + chunk.length - cap;
    if (over > 0) {
      this.start = (this.start + over) % cap;
      this.size -= over;
    }
    const at = (this.start + this.size) % cap;
    const first = Math.min(chunk.length, cap - at);
    this.ring.set(chunk.subarray(0, first), at);
    if (first < chunk.length) this.ring.set(chunk.subarray(first), 0);
    this.size += chunk.length;
  }

  /** The kept bytes, oldest first (a view while they sit in one piece of the ring). */
  bytes(): Buffer {
    const end = this.start + this.size;
    if (end <= this.ring.length) return this.ring.subarray(this.start, end);
    return Buffer.concat([this.ring.subarray(this.start), this.ring.subarray(0, end - this.ring.length)]);
  }
}
