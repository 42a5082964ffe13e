// The last `limit` bytes of an execution's output and how many bytes it
// produced in all, so output the server missed while the agent was cut off
// can be sent again (as much of it as the tail still holds). Memory stays
// bounded: see ByteTail.

import { ByteTail } from '../common/byte-tail.js';

export class OutputBuffer {
  private readonly tail: ByteTail;

  constructor(limit: number) {
    this.tail = new ByteTail(limit);
  }

  /** Bytes produced in all. */
  get total(): number {
    return this.tail.total;
  }

  setLimit(limit: number): void {
    this.tail.setLimit(limit);
  }

  write(chunk: Uint8Array): void {
    this.tail.write(chunk);
  }

  /** Bytes kept (the tail). */
  get keptBytes(): number {
    return this.tail.length;
  }

  /** The bytes from `offset` (counted from the start of the output) that are still kept. */
  from(offset: number): Buffer {
    const start = this.tail.total - this.tail.length;
    return Buffer.from(this.tail.bytes().subarray(Math.max(0, offset - start)));
  }
}
