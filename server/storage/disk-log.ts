// The durable Raft log, hard state and snapshots of one server.
//
// Layout of the directory:
//   <first index, 20 digits>.seg   log segments: length-prefixed, checksummed records
//   hardstate                      term, vote, commit (checksummed, replaced atomically)
//   commit                         the latest commit index (checksummed, rewritten in place)
//   <index>-<term>.snap            snapshots (checksummed, written atomically; 2 kept)
//
// Group commit: appends queue while a write is in flight; each flush writes
// every queued record with one write() (repeated if it comes back short) and
// one fdatasync(), then resolves all of their promises. 64 concurrent
// appenders cost one fsync per batch, not 64. Each write starts with a batch
// marker giving its length (record-codec.ts).
//
// Recovery tells a torn tail from corruption. Only one write is ever in
// flight, and it is synced before the next starts, so a crash can damage only
// the last batch of the last segment: damage inside a batch that the file
// goes on past, in an earlier segment, or in a marker with a valid marker after
// it is corruption. A torn last batch is cut back to its last whole record.
// The commit index is recorded too (in `commit` as it advances, and in the
// hard state): a log that ends before it lost entries known committed — a
// truncated file passes every other check — and is corruption as well.
// Corruption (and a damaged hard-state or snapshot file, or an index that
// does not follow on) throws CT_STORAGE_CORRUPT naming the file and offset and
// changes nothing, so the server stops instead of serving wrong data.
//
// A snapshot is installed in steps that are each safe to crash after (see
// saveSnapshot); recovery finishes whichever step was interrupted.

import { constants } from 'node:fs';
import { join } from 'node:path';
import { emptyHardState, type Entry, type HardState, type Snapshot, type SnapshotMeta } from '../raft/types.js';
import { writeAtomic, syncDir } from './atomic-file.js';
import { nodeFs, type StorageFile, type StorageFs } from './storage-fs.js';
import { decodeRecord, encodeBatchMarker, encodeRecord, markerAfter, markerBytes, openBlob, sealBlob } from './record-codec.js';
import { corrupt, io, StorageError } from './storage-error.js';

/** The steps of a snapshot install, in order (each may be crashed after, see DiskLogOptions.onStep). */
export const snapshotSteps = [
  'snapshot-temp-synced', 'snapshot-renamed', 'snapshot-durable', 'segment-removed', 'segments-removed', 'snapshot-installed', 'old-snapshots-removed',
] as const;
export type SnapshotStep = (typeof snapshotSteps)[number];

export interface DiskLogOptions {
  /** Start a new segment once the current one is this large. */
  readonly segmentBytes?: number;
  /** A test hook called after each step of a snapshot install ('segment-removed' after each segment), to crash there. */
  readonly onStep?: (step: SnapshotStep) => void;
  /** The file system (node's by default; the simulation's disk in tests). */
  readonly fs?: StorageFs;
}

export interface Recovered {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /** Entries after the snapshot, in index order. */
  readonly entries: Entry[];
  readonly truncatedTornTail: boolean;
}

interface Segment {
  readonly first: number;
  readonly path: string;
  last: number;
  size: number;
}

interface PendingAppend {
  readonly bytes: Buffer[];
  readonly entries: readonly Entry[];
  resolve(): void;
  reject(err: Error): void;
}

const segmentName = (first: number) => `${String(first).padStart(20, '0')}.seg`;
const snapshotName = (m: SnapshotMeta) => `${String(m.index).padStart(20, '0')}-${m.term}.snap`;
const segmentFirst = (name: string) => Number(name.slice(0, 20));

export class DiskLog {
  /** How many fdatasync calls appends have made (group commit shows as syncs << appends). */
  readonly stats = { appends: 0, syncs: 0 };
  private fd: StorageFile | null = null;
  private queue: PendingAppend[] = [];
  private writing: Promise<void> | null = null;
  private failed: Error | null = null;
  /** term of each index from `termsFrom`; index termsFrom-1 is the snapshot's. */
  private terms: number[] = [];
  private termsFrom: number;
  private snapMeta: SnapshotMeta | null;
  private commitFd: StorageFile | null = null;
  private commitWritten: number;
  private readonly fs: StorageFs;

  private constructor(
    private readonly dir: string,
    private readonly segments: Segment[],
    snapMeta: SnapshotMeta | null,
    entries: readonly Entry[],
    commit: number,
    private readonly options: DiskLogOptions,
  ) {
    this.snapMeta = snapMeta;
    this.termsFrom = (snapMeta?.index ?? 0) + 1;
    this.terms = entries.map((e) => e.term);
    this.commitWritten = commit;
    this.fs = options.fs ?? nodeFs;
  }

  static async open(dir: string, options: DiskLogOptions = {}): Promise<{ log: DiskLog; recovered: Recovered }> {
    const fs = options.fs ?? nodeFs;
    await fs.mkdir(dir, { recursive: true, mode: 0o700 }).catch((err: unknown) => { throw io(`cannot create ${dir}`, err); });
    const names = await fs.readdir(dir);
    for (const n of names) if (n.endsWith('.tmp')) await fs.rm(join(dir, n), { force: true });
    const hardState = await readHardState(fs, dir, names);
    const snapshot = await readNewestSnapshot(fs, dir, names);
    const { segments, entries, torn, repair } = await readSegments(fs, dir, names, snapshot?.meta ?? null);
    const commit = Math.max(hardState.commit, await readCommit(fs, dir, names));
    const last = entries.at(-1)?.index ?? snapshot?.meta.index ?? 0;
    if (last < commit) {
      throw new StorageError(
        'CT_STORAGE_CORRUPT',
        `${dir}: the log ends at index ${last}, but entries up to index ${commit} are known to be committed (recorded in ${join(dir, 'commit')} and ${join(dir, 'hardstate')}): committed entries are missing, a segment was cut short or removed; the server will not start on damaged data. Restore the data directory from a backup, or (on a cluster member) empty it and add the server again`,
      );
    }
    // Only now, with every check passed, cut a torn tail and remove what a snapshot replaced.
    await repair();
    const log = new DiskLog(dir, segments, snapshot?.meta ?? null, entries, commit, options);
    return { log, recovered: { hardState, snapshot, entries, truncatedTornTail: torn } };
  }

  firstIndex(): number {
    return this.termsFrom;
  }

  lastIndex(): number {
    return this.termsFrom + this.terms.length - 1;
  }

  /** The term of `index`, or undefined if it is compacted away or beyond the log. */
  term(index: number): number | undefined {
    if (this.snapMeta && index === this.snapMeta.index) return this.snapMeta.term;
    return this.terms[index - this.termsFrom];
  }

  /**
   * Append entries, durable when the promise resolves. The first entry's
   * index may be at or below lastIndex()+1: a conflicting suffix is replaced.
   */
  append(entries: readonly Entry[]): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    if (entries.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.queue.push({ bytes: entries.map(encodeRecord), entries, resolve, reject });
      this.writing ??= this.flushLoop();
    });
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          await this.writeBatch(batch);
          for (const p of batch) p.resolve();
        } catch (err) {
          const e = err instanceof StorageError ? err : io(`cannot write the log in ${this.dir}`, err);
          if (e.code === 'CT_STORAGE_IO') this.failed = e;
          for (const p of batch) p.reject(e);
          for (const p of this.queue.splice(0)) p.reject(e);
        }
      }
    } finally {
      this.writing = null;
    }
  }

  private async writeBatch(batch: PendingAppend[]): Promise<void> {
    const chunks: Buffer[] = [];
    for (const p of batch) {
      const first = p.entries[0] as Entry;
      const expected = this.lastIndex() + 1;
      if (first.index > expected) {
        throw new StorageError('CT_STORAGE_MISUSE', `append of index ${first.index} would leave a gap after ${expected - 1}`);
      }
      if (first.index < expected) {
        // Replace a conflicting suffix: flush what is gathered, then cut the files.
        await this.writeChunks(chunks.splice(0));
        await this.truncateFrom(first.index);
      }
      for (let i = 0; i < p.entries.length; i++) {
        const e = p.entries[i] as Entry;
        if (e.index !== this.lastIndex() + 1) throw new StorageError('CT_STORAGE_MISUSE', `entries must have consecutive indexes (got ${e.index})`);
        const seg = await this.current();
        this.terms.push(e.term);
        chunks.push(p.bytes[i] as Buffer);
        this.stats.appends++;
        seg.last = e.index;
      }
    }
    await this.writeChunks(chunks);
  }

  private async writeChunks(chunks: Buffer[]): Promise<void> {
    if (chunks.length === 0) return;
    const seg = await this.current();
    let bytes = 0;
    for (const c of chunks) bytes += c.length;
    const marker = encodeBatchMarker(this.lastIndex() - chunks.length + 1, bytes);
    const data = Buffer.concat([marker, ...chunks]);
    const fd = this.fd as StorageFile;
    const start = seg.size;
    let written = 0;
    try {
      // write() may write less than asked (a full disk, a file-size limit): go on
      // from where it stopped; a write that makes no progress fails the batch.
      while (written < data.length) {
        const { bytesWritten } = await fd.write(data, written, data.length - written, start + written);
        if (bytesWritten <= 0) throw new Error(`short write: ${written} of ${data.length} bytes at offset ${start}`);
        written += bytesWritten;
        seg.size = start + written;
      }
    } catch (err) {
      // Forget the entries that did not reach the file whole; the log is failed
      // from here on, and recovery cuts the partial batch back as a torn tail.
      let whole = 0;
      for (let end = marker.length, i = 0; i < chunks.length; i++) {
        end += (chunks[i] as Buffer).length;
        if (end <= written) whole++;
      }
      this.terms.length -= chunks.length - whole;
      seg.last = this.lastIndex();
      throw io(`cannot write ${seg.path}`, err);
    }
    await fd.datasync();
    this.stats.syncs++;
    if (seg.size >= (this.options.segmentBytes ?? 64 * 1024 * 1024)) await this.roll();
  }

  /** The segment appends go to, opening (or creating) it. */
  private async current(): Promise<Segment> {
    let seg = this.segments[this.segments.length - 1];
    if (!seg) {
      seg = { first: this.lastIndex() + 1, path: join(this.dir, segmentName(this.lastIndex() + 1)), last: this.lastIndex(), size: 0 };
      this.segments.push(seg);
      this.fd = await this.fs.open(seg.path, 'w+', 0o600);
      await syncDir(this.dir, this.fs);
    } else if (!this.fd) {
      this.fd = await this.fs.open(seg.path, 'r+');
    }
    return seg;
  }

  private async roll(): Promise<void> {
    await this.fd?.close();
    this.fd = null;
    const first = this.lastIndex() + 1;
    this.segments.push({ first, path: join(this.dir, segmentName(first)), last: first - 1, size: 0 });
    this.fd = await this.fs.open(join(this.dir, segmentName(first)), 'w+', 0o600);
    await syncDir(this.dir, this.fs);
  }

  /** Remove every entry from `index` on (Raft: a new leader's entries replace an uncommitted tail). */
  private async truncateFrom(index: number): Promise<void> {
    if (index < this.termsFrom) throw new StorageError('CT_STORAGE_MISUSE', `cannot truncate at ${index}: compacted up to ${this.termsFrom - 1}`);
    let removed = false;
    while (this.segments.length > 0 && (this.segments[this.segments.length - 1] as Segment).first >= index) {
      const seg = this.segments.pop() as Segment;
      if (this.fd) { await this.fd.close(); this.fd = null; }
      await this.fs.rm(seg.path, { force: true });
      removed = true;
    }
    // The removals are made durable before the segment before them is cut: a
    // crash must not bring a later segment back behind a shortened one.
    if (removed) await syncDir(this.dir, this.fs);
    const seg = this.segments[this.segments.length - 1];
    if (seg && seg.last >= index) {
      if (this.fd) { await this.fd.close(); this.fd = null; }
      const buf = await this.fs.readFile(seg.path);
      let offset = 0;
      let batch: OpenBatch | null = null;
      for (;;) {
        const r = decodeRecord(buf, offset);
        if (!r.ok) break;
        if (r.kind === 'batch') batch = { start: offset, firstIndex: r.firstIndex };
        else if (r.entry.index >= index) break;
        offset = r.next;
      }
      seg.size = await cutSegment(this.fs, seg.path, offset, batch);
      seg.last = index - 1;
    }
    this.terms.length = Math.max(0, index - this.termsFrom);
    await syncDir(this.dir, this.fs);
  }

  async setHardState(hs: HardState): Promise<void> {
    await writeAtomic(join(this.dir, 'hardstate'), sealBlob(Buffer.from(JSON.stringify(hs))), undefined, this.fs);
    this.commitWritten = Math.max(this.commitWritten, hs.commit);
  }

  /**
   * Record the commit index, so that a log found shorter on the next start is
   * known to have lost committed entries. Call it once the entries up to
   * `index` are durable, and not concurrently with itself. It rewrites a few
   * bytes in place without an fsync (a process crash keeps them; after a
   * power loss they are as fresh as the OS wrote them back), so it costs no
   * flush per commit; close() syncs it.
   */
  async setCommit(index: number): Promise<void> {
    const commit = Math.min(index, this.lastIndex());
    if (commit <= this.commitWritten || this.failed) return;
    const value = Buffer.allocUnsafe(8);
    value.writeDoubleLE(commit, 0);
    const blob = sealBlob(value);
    try {
      if (!this.commitFd) {
        const path = join(this.dir, 'commit');
        this.commitFd = await this.fs.open(path, constants.O_RDWR | constants.O_CREAT, 0o600);
        await syncDir(this.dir, this.fs);
      }
      await this.commitFd.write(blob, 0, blob.length, 0);
    } catch (err) {
      throw io(`cannot write ${join(this.dir, 'commit')}`, err);
    }
    this.commitWritten = commit;
  }

  /**
   * Store a snapshot; drop the log segments it covers wholly (or, if the log
   * does not reach it or conflicts with it, all of them), and all but the two
   * newest snapshots. Each step is safe to crash after: the snapshot is made
   * durable under its name (temp file, fsync, rename, directory fsync) before
   * any segment goes, and open() treats the segments it finds next to a
   * snapshot as this method would have left them.
   */
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    await this.waitIdle();
    const step = (s: SnapshotStep) => this.options.onStep?.(s);
    const meta = Buffer.from(JSON.stringify(snapshot.meta));
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(meta.length, 0);
    await writeAtomic(join(this.dir, snapshotName(snapshot.meta)), sealBlob(Buffer.concat([head, meta, snapshot.data])), (s) => step(s === 'temp-synced' ? 'snapshot-temp-synced' : 'snapshot-renamed'), this.fs);
    step('snapshot-durable');
    const { index } = snapshot.meta;
    if (index > this.lastIndex() || this.term(index) !== snapshot.meta.term) {
      // A snapshot from the leader beyond (or conflicting with) our log replaces
      // the whole log. Newest segment first: a crash part way leaves a prefix of
      // the old log, which recovery sees does not reach or conflicts with the snapshot.
      if (this.fd) { await this.fd.close(); this.fd = null; }
      const old = this.segments.splice(0);
      this.terms = [];
      this.termsFrom = index + 1;
      for (const seg of old.reverse()) {
        await this.fs.rm(seg.path, { force: true });
        step('segment-removed');
      }
    } else {
      this.terms = this.terms.slice(index + 1 - this.termsFrom);
      this.termsFrom = index + 1;
      // Keep the segment being written; drop earlier ones that end at or before the snapshot, oldest first.
      while (this.segments.length > 1 && (this.segments[0] as Segment).last <= index) {
        await this.fs.rm((this.segments.shift() as Segment).path, { force: true });
        step('segment-removed');
      }
    }
    this.snapMeta = snapshot.meta;
    step('segments-removed');
    await syncDir(this.dir, this.fs);
    step('snapshot-installed');
    const snaps = (await this.fs.readdir(this.dir)).filter((n) => n.endsWith('.snap')).sort();
    for (const old of snaps.slice(0, -2)) await this.fs.rm(join(this.dir, old), { force: true });
    await syncDir(this.dir, this.fs);
    step('old-snapshots-removed');
  }

  private async waitIdle(): Promise<void> {
    while (this.writing) await this.writing;
  }

  async close(): Promise<void> {
    await this.waitIdle();
    await this.fd?.close();
    this.fd = null;
    if (this.commitFd) {
      await this.commitFd.datasync().catch(() => {});
      await this.commitFd.close();
      this.commitFd = null;
    }
    this.failed ??= new StorageError('CT_STORAGE_MISUSE', 'the log is closed');
  }
}

interface OpenBatch {
  readonly start: number;
  readonly firstIndex: number;
}

/**
 * Cut a segment at `offset` and keep it well formed: if that leaves the batch
 * it was in (`batch`) with no records, drop its marker too; otherwise rewrite
 * the marker with the batch's new length. Returns the new size.
 */
async function cutSegment(fs: StorageFs, path: string, offset: number, batch: OpenBatch | null): Promise<number> {
  const size = cutSize(offset, batch);
  if (batch && size === offset) {
    // The cut keeps part of a batch, so its marker must claim less. Rewriting
    // the marker in place could leave it half written (a short write, a crash),
    // and a damaged marker is read as a torn tail that takes the acknowledged
    // records of its batch with it; so the kept prefix, marker corrected, goes
    // to a new file that is renamed over the segment (old or new, never half).
    const kept = Buffer.from((await fs.readFile(path)).subarray(0, size));
    kept.set(encodeBatchMarker(batch.firstIndex, size - batch.start - markerBytes), batch.start);
    await writeAtomic(path, kept, undefined, fs);
    return size;
  }
  const fh = await fs.open(path, 'r+');
  try {
    await fh.truncate(size);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return size;
}

function cutSize(offset: number, batch: OpenBatch | null): number {
  return batch !== null && offset <= batch.start + markerBytes ? batch.start : offset;
}

async function readHardState(fs: StorageFs, dir: string, names: string[]): Promise<HardState> {
  if (!names.includes('hardstate')) return emptyHardState;
  const path = join(dir, 'hardstate');
  const payload = openBlob(await fs.readFile(path));
  if (!payload) throw corrupt(path, 0, 'checksum mismatch');
  return JSON.parse(payload.toString('utf8')) as HardState;
}

/** The commit index last recorded by setCommit, or 0. It is written without an fsync, so a torn copy is a crash's doing and is ignored. */
async function readCommit(fs: StorageFs, dir: string, names: string[]): Promise<number> {
  if (!names.includes('commit')) return 0;
  const payload = openBlob(await fs.readFile(join(dir, 'commit')));
  return payload?.length === 8 ? payload.readDoubleLE(0) : 0;
}

async function readNewestSnapshot(fs: StorageFs, dir: string, names: string[]): Promise<Snapshot | null> {
  const snaps = names.filter((n) => n.endsWith('.snap')).sort();
  const newest = snaps[snaps.length - 1];
  if (!newest) return null;
  const path = join(dir, newest);
  const payload = openBlob(await fs.readFile(path));
  if (!payload || payload.length < 4) throw corrupt(path, 0, 'checksum mismatch');
  const metaLen = payload.readUInt32LE(0);
  const meta = JSON.parse(payload.subarray(4, 4 + metaLen).toString('utf8')) as SnapshotMeta;
  return { meta, data: Uint8Array.prototype.slice.call(payload, 4 + metaLen) };
}

/**
 * Read the segments next to the snapshot `snap`, finishing an interrupted
 * install: segments that end at or before it are removed unread; if what is
 * left does not reach the snapshot or has another term at its index, the
 * snapshot replaced the log and every segment is removed; a segment that
 * straddles it is used from after it.
 */
async function readSegments(fs: StorageFs, dir: string, names: string[], snap: SnapshotMeta | null): Promise<{ segments: Segment[]; entries: Entry[]; torn: boolean; repair(): Promise<void> }> {
  const snapIndex = snap?.index ?? 0;
  const files = names.filter((n) => /^\d{20}\.seg$/.test(n)).sort();
  const stale: string[] = [];
  while (files.length > 1 && segmentFirst(files[1] as string) <= snapIndex + 1) stale.push(files.shift() as string);
  const segments: Segment[] = [];
  let entries: Entry[] = [];
  let torn = false;
  let expect: number | null = null;
  let termAtSnap: number | undefined;
  let tornCut: (() => Promise<unknown>) | null = null;
  for (let f = 0; f < files.length; f++) {
    const name = files[f] as string;
    const path = join(dir, name);
    const first = segmentFirst(name);
    if (expect !== null && first !== expect) throw corrupt(path, 0, `segment starts at index ${first}, expected ${expect}`);
    const read = await readSegment(fs, path, first, f === files.length - 1);
    if (read.cut) {
      const { at, batch } = read.cut;
      tornCut = () => cutSegment(fs, path, at, batch);
      torn = read.size < read.fileSize;
    }
    for (const e of read.entries) {
      if (e.index === snapIndex) termAtSnap = e.term;
      if (e.index > snapIndex) entries.push(e);
    }
    segments.push({ first, path, last: read.last, size: read.size });
    expect = read.last + 1;
  }
  const last = segments.at(-1)?.last;
  if (snap && last !== undefined && (last < snapIndex || (termAtSnap !== undefined && termAtSnap !== snap.term))) {
    stale.push(...files.reverse());
    segments.length = 0;
    entries = [];
  }
  const start = segments[0]?.first;
  if (start !== undefined && start > snapIndex + 1) {
    throw corrupt(join(dir, files[0] as string), 0, `the log starts at index ${start} but ${snap ? `the snapshot ends at ${snapIndex}` : 'there is no snapshot'}`);
  }
  const repair = async () => {
    if (tornCut && segments.length > 0) await tornCut();
    if (stale.length > 0) {
      for (const name of stale) await fs.rm(join(dir, name), { force: true });
      await syncDir(dir, fs);
    }
  };
  return { segments, entries, torn, repair };
}

/**
 * Read one segment. A crash can damage only the last batch of the last
 * segment: that is cut back to its last whole record; any other damage throws.
 */
interface SegmentRead {
  readonly entries: Entry[];
  readonly last: number;
  /** The size once a torn tail is cut. */
  readonly size: number;
  readonly fileSize: number;
  /** Where to cut a torn tail (and the batch that is then open), if it has one. */
  readonly cut: { readonly at: number; readonly batch: OpenBatch | null } | null;
}

async function readSegment(fs: StorageFs, path: string, first: number, isLast: boolean): Promise<SegmentRead> {
  const buf = await fs.readFile(path);
  const entries: Entry[] = [];
  let offset = 0;
  let last = first - 1;
  let batch: OpenBatch | null = null;
  let batchEnd = 0;
  let sawMarker = false;
  const cut = (at: number, open: OpenBatch | null): SegmentRead => ({ entries, last, size: cutSize(at, open), fileSize: buf.length, cut: { at, batch: open } });
  while (offset < buf.length) {
    if (batch && offset === batchEnd) batch = null;
    const r = decodeRecord(buf, offset);
    if (batch) {
      if (r.ok && r.kind === 'entry' && r.next <= batchEnd) {
        if (r.entry.index !== last + 1) throw corrupt(path, offset, `index ${r.entry.index} does not follow ${last}`);
        entries.push(r.entry);
        last = r.entry.index;
        offset = r.next;
        continue;
      }
      const reason = !r.ok ? r.reason : r.kind === 'batch' ? 'a batch marker inside a batch' : 'a record runs past the end of its batch';
      // Only the last write can be partial: the batch must reach the end of the file.
      if (isLast && batchEnd >= buf.length) return cut(offset, batch);
      throw corrupt(path, offset, `${reason}, inside the batch written at byte ${batch.start} that the file goes on past`);
    }
    if (r.ok && r.kind === 'batch') {
      batch = { start: offset, firstIndex: r.firstIndex };
      batchEnd = r.next + r.bytes;
      sawMarker = true;
      offset = r.next;
      continue;
    }
    if (r.ok) {
      // A record outside any batch: written before batches were marked.
      if (r.entry.index !== last + 1) throw corrupt(path, offset, `index ${r.entry.index} does not follow ${last}`);
      entries.push(r.entry);
      last = r.entry.index;
      offset = r.next;
      continue;
    }
    // A damaged marker is the start of the last write only if no later write follows.
    const later = markerAfter(buf, offset);
    if (isLast && later === null && (sawMarker || legacyTornTail(buf, offset, r.partial))) return cut(offset, null);
    throw corrupt(path, offset, later === null ? r.reason : `${r.reason}, with a batch written after it at byte ${later}`);
  }
  if (batch && offset < batchEnd) {
    // The file ends inside a batch, between records.
    if (isLast) return cut(offset, batch);
    throw corrupt(path, offset, `the segment ends inside the batch written at byte ${batch.start}`);
  }
  return { entries, last, size: offset, fileSize: buf.length, cut: null };
}

/** For a segment written before batches were marked: a partial record, a bad last record, or zeros to the end. */
function legacyTornTail(buf: Buffer, offset: number, partial: boolean): boolean {
  if (partial) return true;
  const len = buf.readUInt32LE(offset);
  if (offset + 8 + len === buf.length) return true;
  for (let i = offset; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}
