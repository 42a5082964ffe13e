// Keeps the last `limit` bytes of a stream of output chunks, and whether
// anything was dropped. Memory stays bounded whatever a job prints (see
// ByteTail).

import { ByteTail } from '../../common/byte-tail.js';

export class OutputTail {
  private readonly tail: ByteTail;
  /** text() had to cut more to stay within the limit. */
  private cutInText = false;

  /** Who follows the output as it arrives (the API's live stream). */
  private readonly followers = new Set<(chunk: Uint8Array) => void>();

  constructor(private readonly limit: number) {
    this.tail = new ByteTail(limit);
  }

  write(chunk: Uint8Array): void {
    this.tail.write(chunk);
    for (const f of this.followers) f(chunk);
  }

  /** The kept bytes now, then every chunk written from now on, until the returned function is called. */
  follow(onChunk: (chunk: Uint8Array) => void): { kept: Buffer; dropped: boolean; stop: () => void } {
    const kept = Buffer.from(this.tail.bytes());
    this.followers.add(onChunk);
    return { kept, dropped: this.tail.dropped, stop: () => this.followers.delete(onChunk) };
  }

  get truncated(): boolean {
    return this.tail.dropped || this.cutInText;
  }

  get byteLength(): number {
    return this.tail.length;
  }

  /**
   * The kept tail as text, at most `limit` bytes of UTF-8. A byte that is not
   * UTF-8 shows as U+FFFD, which takes three bytes: if that makes the text
   * longer than the limit, its start is cut (and `truncated` says so), so
   * invalid output is never stored larger than the limit.
   */
  text(): string {
    const text = this.tail.bytes().toString('utf8');
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
