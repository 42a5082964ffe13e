// The real DiskLog on the simulated disk (sim-fs.ts), driven as the Raft node
// drives it, with crashes at any call, short writes, write and fsync errors.
// After every crash the log is opened again, as a restarted server does, and
// checked:
// - it opens (a crash or a failed write is never taken for corruption);
// - every acknowledged entry is there, unless the caller later asked to
//   replace it (a conflicting append from a new leader) or a snapshot covers it;
// - nothing is there that was never written; indexes are consecutive from
//   the snapshot on;
// - the acknowledged hard state, commit index and snapshot are kept (or a
//   newer one whose write was in flight).
// A seed replays exactly.

import type { Entry, HardState, Snapshot } from '../../server/raft/types.js';
import { EntryType } from '../../server/raft/types.js';
import { DiskLog } from '../../server/storage/disk-log.js';
import { prng, type Prng } from './prng.js';
import { SimFs } from './sim-fs.js';

export interface DiskSimResult {
  readonly seed: number;
  readonly failure: string | null;
  readonly stats: { ops: number; acked: number; crashes: number; faults: number; snapshots: number; truncations: number };
}

const root = '/sim/raft';

/** What the log must hold: index -> [term, data]; what it may hold: every (index, term, data) ever written. */
interface Model {
  must: Map<number, string>;
  ever: Set<string>;
  hardState: HardState;
  /** Hard states whose write did not finish: any of them may be found instead. */
  hardStateMaybe: HardState[];
  committed: number;
  snapIndex: number;
  snapMaybe: number[];
}

const key = (e: Entry) => `${e.index}/${e.term}/${Buffer.from(e.data).toString('hex')}`;

export async function runDiskSeed(seed: number, steps = 200): Promise<DiskSimResult> {
  const rng = prng(seed);
  const fs = new SimFs(root);
  const segmentBytes = rng.pick([256, 1024, 8192, 1 << 20]);
  const stats = { ops: 0, acked: 0, crashes: 0, faults: 0, snapshots: 0, truncations: 0 };
  const model: Model = { must: new Map(), ever: new Set(), hardState: { term: 0, vote: '', commit: 0 }, hardStateMaybe: [], committed: 0, snapIndex: 0, snapMaybe: [] };
  let term = 1;
  let log: DiskLog;
  try {
    ({ log } = await DiskLog.open(root, { fs, segmentBytes }));
  } catch (err) {
    return { seed, failure: `the first open failed: ${String(err)}`, stats };
  }
  let broken = false;

  const reopen = async (): Promise<string | null> => {
    fs.crash(rng);
    stats.crashes++;
    let opened;
    try {
      opened = await DiskLog.open(root, { fs, segmentBytes });
    } catch (err) {
      return `open after a crash failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    log = opened.log;
    broken = false;
    const problem = check(model, opened.recovered);
    if (problem) return problem;
    // What was found is the log now (entries of a failed write that did land are kept by Raft too).
    model.must = new Map(opened.recovered.entries.map((e) => [e.index, key(e)]));
    model.snapIndex = opened.recovered.snapshot?.meta.index ?? 0;
    model.snapMaybe = [];
    model.hardState = opened.recovered.hardState;
    model.hardStateMaybe = [];
    model.committed = Math.max(model.committed, model.snapIndex);
    term = Math.max(term, model.hardState.term, ...opened.recovered.entries.map((e) => e.term));
    return null;
  };

  for (let step = 0; step < steps; step++) {
    stats.ops++;
    if (!broken && rng.chance(0.08)) fs.crashAt = fs.calls + 1 + rng.int(12);
    if (!broken && rng.chance(0.04)) { fs.fault = rng.pick(['short-write', 'write-error', 'fsync-error'] as const); stats.faults++; }
    const r = rng.next();
    try {
      if (broken) {
        // A failed log stays failed: the server exits and starts again.
        const problem = await reopen();
        if (problem) return { seed, failure: `step ${step}: ${problem}`, stats };
        continue;
      }
      if (r < 0.55) await appendSome(rng, log, model, term, stats);
      else if (r < 0.65) {
        // A new leader's entries replace an uncommitted tail.
        term++;
        await appendSome(rng, log, model, term, stats, true);
      } else if (r < 0.75) {
        const hs: HardState = { term: Math.max(term, model.hardState.term) + rng.int(2), vote: rng.pick(['', 'a', 'b']), commit: model.committed };
        model.hardStateMaybe.push(hs);
        await log.setHardState(hs);
        model.hardState = hs;
        model.hardStateMaybe = [];
      } else if (r < 0.85) {
        const last = log.lastIndex();
        const c = model.committed + rng.int(Math.max(1, last - model.committed + 1));
        if (c > model.committed && c <= last && entriesDurable(model, c)) {
          await log.setCommit(c);
          model.committed = c;
        }
      } else if (r < 0.95) {
        await snapshot(rng, log, model, stats, term);
      } else {
        const problem = await reopenClean();
        if (problem) return { seed, failure: `step ${step}: ${problem}`, stats };
      }
    } catch (err) {
      if (err instanceof Error && /CT_STORAGE_CORRUPT|MISUSE/.test(`${(err as { code?: string }).code ?? ''} ${err.message}`)) {
        return { seed, failure: `step ${step}: ${err.message}`, stats };
      }
      // The write failed (a fault) or the machine crashed mid-call: the server stops, and starts again.
      broken = true;
    }
    if (fs.crashAt !== Number.POSITIVE_INFINITY && fs.calls >= fs.crashAt) broken = true;
  }
  const problem = await reopen();
  return { seed, failure: problem === null ? null : `at the end: ${problem}`, stats };

  async function reopenClean(): Promise<string | null> {
    // A clean restart: close, then open (no crash).
    await log.close();
    let opened;
    try {
      opened = await DiskLog.open(root, { fs, segmentBytes });
    } catch (err) {
      // A crash or an I/O error while opening is the machine's doing: start again after it.
      if (err instanceof Error && /ECRASHED|EIO|ENOSPC/.test(err.message)) throw err;
      return `open after a clean close failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    log = opened.log;
    return check(model, opened.recovered);
  }
}

/** Every entry up to `index` is acknowledged (in `must`). */
function entriesDurable(model: Model, index: number): boolean {
  for (let i = model.snapIndex + 1; i <= index; i++) if (!model.must.has(i)) return false;
  return true;
}

async function appendSome(rng: Prng, log: DiskLog, model: Model, term: number, stats: DiskSimResult['stats'], replace = false): Promise<void> {
  const last = log.lastIndex();
  const lowest = Math.max(model.committed, model.snapIndex) + 1;
  const from = replace && last >= lowest ? lowest + rng.int(last - lowest + 1) : last + 1;
  if (from <= last) stats.truncations++;
  // Several appends at once: the log batches them into one write and fsync.
  const groups = 1 + rng.int(3);
  const batches: Entry[][] = [];
  let next = from;
  for (let g = 0; g < groups; g++) {
    const n = 1 + rng.int(4);
    const entries: Entry[] = [];
    for (let i = 0; i < n; i++) {
      const data = Buffer.alloc(rng.int(120));
      for (let b = 0; b < data.length; b++) data[b] = rng.int(256);
      entries.push({ term, index: next++, type: EntryType.Normal, data });
    }
    batches.push(entries);
  }
  // Asked to replace: the old entries from `from` may be gone whatever happens next.
  for (const i of [...model.must.keys()]) if (i >= from) model.must.delete(i);
  for (const b of batches) for (const e of b) model.ever.add(key(e));
  const results = await Promise.allSettled(batches.map((b) => log.append(b)));
  let failed: unknown = null;
  results.forEach((res, i) => {
    if (res.status === 'fulfilled') {
      for (const e of batches[i] as Entry[]) model.must.set(e.index, key(e));
      stats.acked++;
    } else failed ??= res.reason;
  });
  if (failed !== null) throw failed instanceof Error ? failed : new Error(String(failed));
}

async function snapshot(rng: Prng, log: DiskLog, model: Model, stats: DiskSimResult['stats'], term: number): Promise<void> {
  const last = log.lastIndex();
  let snap: Snapshot;
  if (rng.chance(0.3)) {
    // From the leader, beyond the log: it replaces the whole log.
    const index = last + 1 + rng.int(5);
    snap = { meta: { index, term, conf: { voters: ['a'], learners: [] } }, data: Buffer.from(`snap-${index}`) };
  } else {
    if (model.committed <= model.snapIndex) return;
    const index = model.snapIndex + 1 + rng.int(model.committed - model.snapIndex);
    const t = log.term(index);
    if (t === undefined) return;
    snap = { meta: { index, term: t, conf: { voters: ['a'], learners: [] } }, data: Buffer.from(`snap-${index}`) };
  }
  stats.snapshots++;
  model.snapMaybe.push(snap.meta.index);
  await log.saveSnapshot(snap);
  const { index } = snap.meta;
  if (index > last) model.must.clear();
  for (const i of [...model.must.keys()]) if (i <= index) model.must.delete(i);
  model.snapIndex = index;
  model.snapMaybe = [];
  model.committed = Math.max(model.committed, index);
}

function check(model: Model, r: { hardState: HardState; snapshot: Snapshot | null; entries: Entry[] }): string | null {
  const snapIndex = r.snapshot?.meta.index ?? 0;
  if (snapIndex < model.snapIndex) return `the snapshot at ${model.snapIndex} was acknowledged, but the log opened with ${snapIndex || 'none'}`;
  if (snapIndex > model.snapIndex && !model.snapMaybe.includes(snapIndex)) return `a snapshot at ${snapIndex} that was never written`;
  let expect = snapIndex + 1;
  for (const e of r.entries) {
    if (e.index !== expect) return `entries are not consecutive: ${e.index} after ${expect - 1}`;
    expect++;
    if (!model.ever.has(key(e))) return `entry ${e.index} (term ${e.term}) was never written`;
  }
  const found = new Map(r.entries.map((e) => [e.index, key(e)]));
  for (const [i, k] of model.must) {
    if (i <= snapIndex) continue;
    if (found.get(i) !== k) return `acknowledged entry ${i} is ${found.has(i) ? 'different' : 'missing'} after the restart (the log holds ${snapIndex + 1}..${expect - 1})`;
  }
  const hs = r.hardState;
  const same = (a: HardState, b: HardState) => a.term === b.term && a.vote === b.vote && a.commit === b.commit;
  if (!same(hs, model.hardState) && !model.hardStateMaybe.some((m) => same(m, hs))) {
    return `hard state ${JSON.stringify(hs)} is neither the acknowledged ${JSON.stringify(model.hardState)} nor one in flight`;
  }
  return null;
}
