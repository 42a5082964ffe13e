// HostTimers on a time of their own, for the agent host's parts: nothing
// fires until advance() moves the time past it; then everything due fires
// in order of its time (an interval as often as it falls due).

import type { Cancel, HostTimers } from '../../server/dispatch/host-timers.js';

interface Entry {
  at: number;
  readonly every: number | null;
  readonly fn: () => void;
}

export class FakeHostTimers implements HostTimers {
  nowMs = 0;
  private seq = 0;
  private readonly due = new Map<number, Entry>();

  after(ms: number, fn: () => void): Cancel {
    return this.add({ at: this.nowMs + ms, every: null, fn });
  }

  every(ms: number, fn: () => void): Cancel {
    return this.add({ at: this.nowMs + ms, every: ms, fn });
  }

  /** Timers waiting to fire (intervals included). */
  get armed(): number {
    return this.due.size;
  }

  advance(ms: number): void {
    const end = this.nowMs + ms;
    for (;;) {
      let next: [number, Entry] | null = null;
      for (const e of this.due) if (e[1].at <= end && (next === null || e[1].at < next[1].at)) next = e;
      if (next === null) break;
      const [id, entry] = next;
      this.nowMs = entry.at;
      if (entry.every === null) this.due.delete(id);
      else entry.at += Math.max(1, entry.every);
      entry.fn();
    }
    this.nowMs = end;
  }

  private add(entry: Entry): Cancel {
    const id = ++this.seq;
    this.due.set(id, entry);
    return () => { this.due.delete(id); };
  }
}
