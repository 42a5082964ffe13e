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

/** Resident bytes of every process in process group `pgid`. */
export async function groupRssBytes(pgid: number): Promise<number> {
  let total = 0;
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    // Fields after the parenthesised command: state ppid pgrp ...; rss is field 24.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[2]) !== pgid) continue;
    total += Number(rest[21] ?? 0) * pageBytes;
  }
  return total;
}
