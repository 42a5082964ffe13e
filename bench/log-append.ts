// Committed log appends per second with 64 concurrent writers (1 KiB each)
// through DiskLog's group commit, against a raw append + fdatasync loop of
// the same records in the same run, plus append latency.

import { mkdtempSync, openSync, closeSync, writeSync, fdatasyncSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskLog } from '../server/storage/disk-log.js';
import { EntryType } from '../server/raft/types.js';
import { isMain, round, summarize } from './stats.js';

const seconds = Number(process.env['BENCH_LOG_SECONDS'] ?? 3);
const writers = 64;
const payload = Buffer.alloc(1024, 7);

function rawLoop(dir: string): number {
  const fd = openSync(join(dir, 'raw.log'), 'a');
  const end = performance.now() + seconds * 1000;
  let n = 0;
  while (performance.now() < end) {
    writeSync(fd, payload);
    fdatasyncSync(fd);
    n++;
  }
  closeSync(fd);
  return n / seconds;
}

async function groupCommit(dir: string): Promise<{ perSecond: number; latencies: number[]; syncs: number; appends: number }> {
  const { log } = await DiskLog.open(join(dir, 'raft'));
  let next = 1;
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  let done = 0;
  const writer = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      await log.append([{ index: next++, term: 1, type: EntryType.Normal, data: payload }]);
      latencies.push(performance.now() - t0);
      done++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: writers }, writer));
  const elapsed = (performance.now() - start) / 1000;
  const { syncs, appends } = log.stats;
  await log.close();
  return { perSecond: done / elapsed, latencies, syncs, appends };
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'ct-bench-log-'));
  try {
    const raw = rawLoop(dir);
    const grouped = await groupCommit(dir);
    return {
      bench: 'log-append',
      writers,
      entry_bytes: payload.length,
      seconds,
      clocktower_appends_per_s: round(grouped.perSecond),
      raw_append_fsync_per_s: round(raw),
      ratio_vs_raw: round(grouped.perSecond / raw),
      entries_per_fsync: round(grouped.appends / grouped.syncs),
      append_latency_ms: summarize(grouped.latencies),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
