// Dkron's mem_limit: bytes, or a number with B/BYTES/K/KB/M/MB/G/GB/T/TB
// (case-insensitive, decimals allowed, above 0); and the resident memory of a
// process group read from /proc.

import { readdir, readFile } from 'node:fs/promises';

const units: Record<string, number> = { '': 1, B: 1, BYTES: 1, K: 1024, KB: 1024, M: 1024 ** 2, MB: 1024 ** 2, G: 1024 ** 3, GB: 1024 ** 3, T: 1024 ** 4, TB: 1024 ** 4 };

export function parseMemLimit(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i.exec(text);
  const unit = units[(m?.[2] ?? '?').toUpperCase()];
  if (!m?.[1] || unit === undefined) throw new Error(`mem_limit "${text}" is not a size: use bytes or a number with B, KB, MB, GB or TB`);
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!(bytes > 0)) throw new Error(`mem_limit "${text}" must be above 0`);
  return bytes;
}

const pageBytes = 4096;

/** Resident bytes of each of the process groups `pgids`, from one pass over /proc. */
export async function groupsRssBytes(pgids: ReadonlySet<number>): Promise<Map<number, number>> {
  const totals = new Map<number, number>();
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    // Fields after the parenthesised command: state ppid pgrp ...; rss is field 24.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pgid = Number(rest[2]);
    if (!pgids.has(pgid)) continue;
    totals.set(pgid, (totals.get(pgid) ?? 0) + Number(rest[21] ?? 0) * pageBytes);
  }
  return totals;
}

/**
 * Checks the process groups of every execution with a mem_limit once a
 * second, in one pass over /proc for all of them (a pass per execution
 * would read /proc n times for n such executions: n^2 reads a second).
 */
export class MemLimitWatch {
  private readonly watched = new Map<number, { readonly limit: number; readonly over: (rss: number) => void }>();
  private timer: NodeJS.Timeout | null = null;
  private scanning = false;

  constructor(private readonly everyMs = 1000) {}

  /** Calls `over` when group `pgid` holds more than `limit` bytes; returns the function that stops watching. */
  watch(pgid: number, limit: number, over: (rss: number) => void): () => void {
    const entry = { limit, over };
    this.watched.set(pgid, entry);
    if (!this.timer) {
      this.timer = setInterval(() => void this.scan(), this.everyMs);
      this.timer.unref();
    }
    return () => {
      if (this.watched.get(pgid) === entry) this.watched.delete(pgid);
      if (this.watched.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
      }
    };
  }

  private async scan(): Promise<void> {
    // A pass slower than the interval skips a tick rather than piling up.
    if (this.scanning) return;
    this.scanning = true;
    try {
      const rss = await groupsRssBytes(new Set(this.watched.keys()));
      for (const [pgid, w] of this.watched) {
        const bytes = rss.get(pgid) ?? 0;
        if (bytes > w.limit) w.over(bytes);
      }
    } finally {
      this.scanning = false;
    }
  }
}
