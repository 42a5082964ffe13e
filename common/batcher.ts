// Coalesces what becomes ready in one event-loop turn into one message: items
// wait until what runs now (and the microtasks it queued) is done, then go
// out together. Nothing waits on a timer for more, so a lone item is sent a
// turn later and no more. A batch is bounded (bytes and items): reaching the
// bound sends it at once, and an item that would take it past the byte bound
// starts the next one (an item bigger than the bound goes alone).

export interface BatcherOptions<T> {
  /** Sends a batch (never empty), in the order the items were pushed. */
  readonly send: (items: T[]) => void;
  readonly maxBytes: number;
  readonly maxItems: number;
  /** Runs `fn` after what is ready now (default setImmediate; tests drive it by hand). */
  readonly defer?: (fn: () => void) => void;
}

export class Batcher<T> {
  private items: T[] = [];
  private bytes = 0;
  private scheduled = false;
  private readonly defer: (fn: () => void) => void;

  constructor(private readonly options: BatcherOptions<T>) {
    this.defer = options.defer ?? ((fn) => { setImmediate(fn); });
  }

  /** Items waiting. */
  get size(): number {
    return this.items.length;
  }

  push(item: T, bytes: number): void {
    const { maxBytes, maxItems } = this.options;
    if (this.items.length > 0 && this.bytes + bytes > maxBytes) this.flush();
    this.items.push(item);
    this.bytes += bytes;
    if (this.items.length >= maxItems || this.bytes >= maxBytes) {
      this.flush();
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      this.defer(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Send what waits now (before a message that must follow it). */
  flush(): void {
    if (this.items.length === 0) return;
    const items = this.items;
    this.items = [];
    this.bytes = 0;
    this.options.send(items);
  }

  /** Drop what waits (the link is gone). */
  clear(): void {
    this.items = [];
    this.bytes = 0;
  }
}
