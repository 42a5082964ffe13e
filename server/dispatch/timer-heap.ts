// A min-heap of (time, key) with lazy replacement: scheduling a key again
// supersedes its earlier entry, which is skipped when it surfaces. One real
// timer is armed for the earliest entry; see DueTimer.

interface Item {
  readonly at: number;
  readonly key: string;
  readonly version: number;
}

export class TimerHeap {
  private heap: Item[] = [];
  private readonly versions = new Map<string, number>();
  private counter = 0;

  get size(): number {
    return this.versions.size;
  }

  /** Schedule `key` at `at`, replacing any earlier schedule of it. */
  set(key: string, at: number): void {
    const version = ++this.counter;
    this.versions.set(key, version);
    this.push({ at, key, version });
    // Stale entries pile up when keys are rescheduled often; rebuild when they dominate.
    if (this.heap.length > 64 && this.heap.length > 4 * this.versions.size) this.compact();
  }

  delete(key: string): void {
    this.versions.delete(key);
  }

  clear(): void {
    this.heap = [];
    this.versions.clear();
  }

  /** The earliest live time, or null. */
  peek(): number | null {
    this.dropStale();
    return this.heap[0]?.at ?? null;
  }

  /** Remove and return every live key due at or before `now`, earliest first. */
  popDue(now: number): { key: string; at: number }[] {
    const out: { key: string; at: number }[] = [];
    for (;;) {
      this.dropStale();
      const top = this.heap[0];
      if (!top || top.at > now) return out;
      this.pop();
      this.versions.delete(top.key);
      out.push({ key: top.key, at: top.at });
    }
  }

  private dropStale(): void {
    for (let top = this.heap[0]; top && this.versions.get(top.key) !== top.version; top = this.heap[0]) this.pop();
  }

  private compact(): void {
    const live = this.heap.filter((i) => this.versions.get(i.key) === i.version);
    this.heap = [];
    for (const i of live) this.push(i);
  }

  private push(item: Item): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p];
      if (!parent || parent.at <= item.at) break;
      h[i] = parent;
      i = p;
    }
    h[i] = item;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (!last || h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      let mAt = last.at;
      const left = h[l];
      const right = h[r];
      if (left && left.at < mAt) { m = l; mAt = left.at; }
      if (right && right.at < mAt) m = r;
      if (m === i) break;
      h[i] = h[m] as Item;
      i = m;
    }
    h[i] = last;
  }
}

/** The timer the dispatcher waits on: Node's by default, a simulated clock's in the simulation. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const nodeTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Max delay for one setTimeout: longer ones fire at once in Node. */
const maxDelayMs = 60_000;

/**
 * One timer for the earliest entry of a heap. When it fires it re-reads the
 * clock (timers can fire a little early) and hands everything due to `onDue`.
 */
export class DueTimer {
  private timer: unknown = null;
  private armedFor: number | null = null;

  constructor(
    private readonly heap: TimerHeap,
    private readonly now: () => number,
    private readonly onDue: (due: { key: string; at: number }[]) => void,
    private readonly timers: Timers = nodeTimers,
  ) {}

  /** Re-arm after the heap changed. */
  arm(): void {
    const next = this.heap.peek();
    if (next === null) return this.stop();
    if (this.timer !== null && this.armedFor !== null && this.armedFor <= next) return;
    this.stop();
    this.armedFor = next;
    const delay = Math.min(Math.max(0, next - this.now()), maxDelayMs);
    this.timer = this.timers.setTimeout(() => this.fire(), delay);
  }

  private fire(): void {
    this.timer = null;
    this.armedFor = null;
    const due = this.heap.popDue(this.now());
    if (due.length > 0) this.onDue(due);
    this.arm();
  }

  stop(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.armedFor = null;
  }
}
