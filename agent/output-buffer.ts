// The last `limit` bytes of an execution's output and how many bytes it
// produced in all, so output the server missed while the agent was cut off
// can be sent again (as much of it as the tail still holds). The bytes live
// in one ring buffer of at most `limit` bytes, so memory stays bounded
// however many chunks, of whatever size, the job prints.

export class OutputBuffer {
  private ring: Buffer = Buffer.alloc(0);
  /** Where the oldest kept byte is in `ring`. */
  private start = 0;
  private size = 0;
  /** Bytes produced in all. */
  total = 0;

  constructor(private limit: number) {}

  setLimit(limit: number): void {
    if (limit === this.limit) return;
    const kept = this.kept();
    this.limit = limit;
    const tail = kept.subarray(Math.max(0, kept.length - limit));
    this.ring = Buffer.from(tail);
    this.start = 0;
    this.size = tail.length;
  }

  write(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.total += chunk.length;
    if (this.limit <= 0) return;
    if (chunk.length >= this.limit) {
      if (this.ring.length !== this.limit) this.ring = Buffer.alloc(this.limit);
      this.ring.set(chunk.subarray(chunk.length - this.limit));
      this.start = 0;
      this.size = this.limit;
      return;
    }
    if (this.size + chunk.length > this.ring.length && this.ring.length < this.limit) {
      const next = Buffer.alloc(Math.min(this.limit, Math.max(this.size + chunk.length, this.ring.length * 2, 4096)));
      this.kept().copy(next);
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

  /** Bytes kept (the tail). */
  get keptBytes(): number {
    return this.size;
  }

  /** The bytes from `offset` (counted from the start of the output) that are still kept. */
  from(offset: number): Buffer {
    const all = this.kept();
    const start = this.total - this.size;
    return Buffer.from(all.subarray(Math.max(0, offset - start)));
  }

  private kept(): Buffer {
    const end = this.start + this.size;
    if (end <= this.ring.length) return this.ring.subarray(this.start, end);
    return Buffer.concat([this.ring.subarray(this.start), this.ring.subarray(0, end - this.ring.length)]);
  }
}
