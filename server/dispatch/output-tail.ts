// Keeps the last `limit` bytes of a stream of output chunks, and whether
// anything was dropped. Memory stays bounded whatever a job prints: the
// bytes live in one ring buffer of at most `limit` bytes (grown as output
// arrives), never in the chunks themselves, so neither many tiny chunks nor
// a small slice of a huge buffer can hold more.

export class OutputTail {
  private ring: Buffer = Buffer.alloc(0);
  /** Where the oldest kept byte is in `ring`. */
  private start = 0;
  private size = 0;
  private dropped = false;
  /** text() had to cut more to stay within the limit. */
  private cutInText = false;

  constructor(private readonly limit: number) {}

  write(chunk: Uint8Array): void {
    if (chunk.length === 0 || this.limit <= 0) {
      this.dropped ||= chunk.length > 0;
      return;
    }
    if (chunk.length >= this.limit) {
      this.dropped ||= chunk.length > this.limit || this.size > 0;
      this.ring = this.ring.length === this.limit ? this.ring : Buffer.alloc(this.limit);
      this.ring.set(chunk.subarray(chunk.length - this.limit));
      this.start = 0;
      this.size = this.limit;
      return;
    }
    if (this.size + chunk.length > this.ring.length && this.ring.length < this.limit) this.grow(this.size + chunk.length);
    const cap = this.ring.length;
    const over = this.size + chunk.length - cap;
    if (over > 0) {
      this.dropped = true;
      this.start = (this.start + over) % cap;
      this.size -= over;
    }
    const at = (this.start + this.size) % cap;
    const first = Math.min(chunk.length, cap - at);
    this.ring.set(chunk.subarray(0, first), at);
    if (first < chunk.length) this.ring.set(chunk.subarray(first), 0);
    this.size += chunk.length;
  }

  private grow(need: number): void {
    const next = Buffer.alloc(Math.min(this.limit, Math.max(need, this.ring.length * 2, 4096)));
    this.bytes().copy(next);
    this.ring = next;
    this.start = 0;
  }

  /** The kept bytes, oldest first. */
  private bytes(): Buffer {
    const end = this.start + this.size;
    if (end <= this.ring.length) return this.ring.subarray(this.start, end);
    return Buffer.concat([this.ring.subarray(this.start), this.ring.subarray(0, end - this.ring.length)]);
  }

  get truncated(): boolean {
    return this.dropped || this.cutInText;
  }

  get byteLength(): number {
    return this.size;
  }

  /**
   * The kept tail as text, at most `limit` bytes of UTF-8. A byte that is not
   * UTF-8 shows as U+FFFD, which takes three bytes: if that makes the text
   * longer than the limit, its start is cut (and `truncated` says so), so
   * invalid output is never stored larger than the limit.
   */
  text(): string {
    const text = this.bytes().toString('utf8');
    return fitTail(text, this.limit, () => { this.cutInText = true; });
  }
}

/** The longest tail of `text` whose UTF-8 is at most `limit` bytes, cut at a character boundary. */
export function fitTail(text: string, limit: number, onCut: () => void = () => {}): string {
  if (text.length * 3 <= limit) return text;
  const utf8 = Buffer.from(text, 'utf8');
  if (utf8.length <= limit) return text;
  onCut();
  let from = utf8.length - limit;
  while (from < utf8.length && ((utf8[from] ?? 0) & 0xc0) === 0x80) from++;
  return utf8.subarray(from).toString('utf8');
}
