// Keeps the last `limit` bytes of a stream of output chunks, and whether
// anything was dropped. Memory stays bounded whatever a job prints.

export class OutputTail {
  private chunks: Uint8Array[] = [];
  private size = 0;
  private dropped = false;

  constructor(private readonly limit: number) {}

  write(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (chunk.length >= this.limit) {
      this.chunks = [chunk.subarray(chunk.length - this.limit)];
      this.dropped ||= chunk.length > this.limit || this.size > 0;
      this.size = this.limit;
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limit) {
      const first = this.chunks[0];
      if (!first) break;
      const over = this.size - this.limit;
      this.dropped = true;
      if (first.length <= over) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(over);
        this.size -= over;
      }
    }
  }

  get truncated(): boolean {
    return this.dropped;
  }

  get byteLength(): number {
    return this.size;
  }

  /** The kept tail as text (a character cut at the start shows as U+FFFD). */
  text(): string {
    return Buffer.concat(this.chunks, this.size).toString('utf8');
  }
}
