// The last `limit` bytes of an execution's output and how many bytes it
// produced in all, so output the server missed while the agent was cut off
// can be sent again (as much of it as the tail still holds).

export class OutputBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Bytes produced in all. */
  total = 0;

  constructor(private limit: number) {}

  setLimit(limit: number): void {
    this.limit = limit;
    this.trim();
  }

  write(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(Buffer.from(chunk));
    this.size += chunk.length;
    this.total += chunk.length;
    this.trim();
  }

  /** The bytes from `offset` (counted from the start of the output) that are still kept. */
  from(offset: number): Buffer {
    const all = Buffer.concat(this.chunks, this.size);
    const start = this.total - this.size;
    return all.subarray(Math.max(0, offset - start));
  }

  private trim(): void {
    while (this.size > this.limit) {
      const first = this.chunks[0];
      if (!first) break;
      const over = this.size - this.limit;
      if (first.length <= over) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(over);
        this.size -= over;
      }
    }
  }
}
