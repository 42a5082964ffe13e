// The durable Raft log, hard state and snapshots of one server.
//
// Layout of the directory:
//   <first index, 20 digits>.seg   log segments: length-prefixed, checksummed records
//   hardstate                      term, vote, commit (checksummed, replaced atomically)
//   <index>-<term>.snap            snapshots (checksummed, written atomically; 2 kept)
//
// Group commit: appends queue while a write is in flight; each flush writes
// every queued record with one write() (repeated if it comes back short) and
// one fdatasync(), then resolves
// all of their promises. 64 concurrent appenders cost one fsync per batch,
// not 64.
//
// Recovery tells a torn tail from corruption: only the LAST segment may end
// badly, and only in a way a crash mid-write leaves — a record that runs past
// the end of the file, a bad record that is the last thing in the file, or a
// zero-filled remainder. That tail is cut off (the file truncated at the last
// whole record). Anything else — a bad record with more data after it, a bad
// record in an earlier segment, an index that does not follow on, a damaged
// hard-state or snapshot file — throws CT_STORAGE_CORRUPT naming the file and
// offset, so the server stops instead of serving wrong data.

import { mkdir, open, readdir, readFile, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { emptyHardState, type Entry, type HardState, type Snapshot, type SnapshotMeta } from '../raft/types.js';
import { writeAtomic, syncDir } from './atomic-file.js';
import { decodeRecord, encodeRecord, openBlob, sealBlob } from './record-codec.js';
import { corrupt, io, StorageError } from './storage-error.js';

export interface DiskLogOptions {
  /** Start a new segment once the current one is this large. */
  readonly segmentBytes?: number;
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

export class DiskLog {
  /** How many fdatasync calls appends have made (group commit shows as syncs << appends). */
  readonly stats = { appends: 0, syncs: 0 };
  private fd: FileHandle | null = null;
  private queue: PendingAppend[] = [];
  private writing: Promise<void> | null = null;
  private failed: Error | null = null;
  /** term of each index from `termsFrom`; index termsFrom-1 is the snapshot's. */
  private terms: number[] = [];
  private termsFrom: number;
  private snapMeta: SnapshotMeta | null;

  private constructor(
    private readonly dir: string,
    private readonly segments: Segment[],
    snapMeta: SnapshotMeta | null,
    entries: readonly Entry[],
    private readonly segmentBytes: number,
  ) {
    this.snapMeta = snapMeta;
    this.termsFrom = (snapMeta?.index ?? 0) + 1;
    this.terms = entries.map((e) => e.term);
  }

  static async open(dir: string, options: DiskLogOptions = {}): Promise<{ log: DiskLog; recovered: Recovered }> {
    await mkdir(dir, { recursive: true }).catch((err: unknown) => { throw io(`cannot create ${dir}`, err); });
    const names = await readdir(dir);
    for (const n of names) if (n.endsWith('.tmp')) await rm(join(dir, n), { force: true });
    const hardState = await readHardState(dir, names);
    const snapshot = await readNewestSnapshot(dir, names);
    const { segments, entries, torn } = await readSegments(dir, names, snapshot?.meta.index ?? 0);
    const log = new DiskLog(dir, segments, snapshot?.meta ?? null, entries, options.segmentBytes ?? 64 * 1024 * 1024);
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
    const data = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    const fd = this.fd as FileHandle;
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
      // from here on, and recovery cuts the partial record off as a torn tail.
      let whole = 0;
      for (let end = 0, i = 0; i < chunks.length; i++) {
        end += (chunks[i] as Buffer).length;
        if (end <= written) whole++;
      }
      this.terms.length -= chunks.length - whole;
      seg.last = this.lastIndex();
      throw io(`cannot write ${seg.path}`, err);
    }
    await fd.datasync();
    this.stats.syncs++;
    if (seg.size >= this.segmentBytes) await this.roll();
  }

  /** The segment appends go to, opening (or creating) it. */
  private async current(): Promise<Segment> {
    let seg = this.segments[this.segments.length - 1];
    if (!seg) {
      seg = { first: this.lastIndex() + 1, path: join(this.dir, segmentName(this.lastIndex() + 1)), last: this.lastIndex(), size: 0 };
      this.segments.push(seg);
      this.fd = await open(seg.path, 'w+');
      await syncDir(this.dir);
    } else if (!this.fd) {
      this.fd = await open(seg.path, 'r+');
    }
    return seg;
  }

  private async roll(): Promise<void> {
    await this.fd?.close();
    this.fd = null;
    const first = this.lastIndex() + 1;
    this.segments.push({ first, path: join(this.dir, segmentName(first)), last: first - 1, size: 0 });
    this.fd = await open(join(this.dir, segmentName(first)), 'w+');
    await syncDir(this.dir);
  }

  /** Remove every entry from `index` on (Raft: a new leader's entries replace an uncommitted tail). */
  private async truncateFrom(index: number): Promise<void> {
    if (index < this.termsFrom) throw new StorageError('CT_STORAGE_MISUSE', `cannot truncate at ${index}: compacted up to ${this.termsFrom - 1}`);
    while (this.segments.length > 0 && (this.segments[this.segments.length - 1] as Segment).first >= index) {
      const seg = this.segments.pop() as Segment;
      if (this.fd) { await this.fd.close(); this.fd = null; }
      await rm(seg.path, { force: true });
    }
    const seg = this.segments[this.segments.length - 1];
    if (seg && seg.last >= index) {
      if (this.fd) { await this.fd.close(); this.fd = null; }
      const buf = await readFile(seg.path);
      let offset = 0;
      for (;;) {
        const r = decodeRecord(buf, offset);
        if (!r.ok || r.entry.index >= index) break;
        offset = r.next;
      }
      const fh = await open(seg.path, 'r+');
      await fh.truncate(offset);
      await fh.sync();
      await fh.close();
      seg.size = offset;
      seg.last = index - 1;
    }
    this.terms.length = Math.max(0, index - this.termsFrom);
    await syncDir(this.dir);
  }

  async setHardState(hs: HardState): Promise<void> {
    await writeAtomic(join(this.dir, 'hardstate'), sealBlob(Buffer.from(JSON.stringify(hs))));
  }

  /** Store a snapshot; drop log segments it covers wholly, and all but the two newest snapshots. */
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    const meta = Buffer.from(JSON.stringify(snapshot.meta));
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(meta.length, 0);
    await writeAtomic(join(this.dir, snapshotName(snapshot.meta)), sealBlob(Buffer.concat([head, meta, snapshot.data])));
    const { index } = snapshot.meta;
    if (index > this.lastIndex() || this.term(index) !== snapshot.meta.term) {
      // A snapshot from the leader beyond (or conflicting with) our log replaces the whole log.
      await this.waitIdle();
      for (const seg of this.segments.splice(0)) await rm(seg.path, { force: true });
      if (this.fd) { await this.fd.close(); this.fd = null; }
      this.terms = [];
      this.termsFrom = index + 1;
    } else {
      this.terms = this.terms.slice(index + 1 - this.termsFrom);
      this.termsFrom = index + 1;
      // Keep the segment being written; drop earlier ones that end at or before the snapshot.
      while (this.segments.length > 1 && (this.segments[0] as Segment).last <= index) {
        await rm((this.segments.shift() as Segment).path, { force: true });
      }
    }
    this.snapMeta = snapshot.meta;
    const snaps = (await readdir(this.dir)).filter((n) => n.endsWith('.snap')).sort();
    for (const old of snaps.slice(0, -2)) await rm(join(this.dir, old), { force: true });
    await syncDir(this.dir);
  }

  private async waitIdle(): Promise<void> {
    while (this.writing) await this.writing;
  }

  async close(): Promise<void> {
    await this.waitIdle();
    await this.fd?.close();
    this.fd = null;
    this.failed ??= new StorageError('CT_STORAGE_MISUSE', 'the log is closed');
  }
}

async function readHardState(dir: string, names: string[]): Promise<HardState> {
  if (!names.includes('hardstate')) return emptyHardState;
  const path = join(dir, 'hardstate');
  const payload = openBlob(await readFile(path));
  if (!payload) throw corrupt(path, 0, 'checksum mismatch');
  return JSON.parse(payload.toString('utf8')) as HardState;
}

async function readNewestSnapshot(dir: string, names: string[]): Promise<Snapshot | null> {
  const snaps = names.filter((n) => n.endsWith('.snap')).sort();
  const newest = snaps[snaps.length - 1];
  if (!newest) return null;
  const path = join(dir, newest);
  const payload = openBlob(await readFile(path));
  if (!payload || payload.length < 4) throw corrupt(path, 0, 'checksum mismatch');
  const metaLen = payload.readUInt32LE(0);
  const meta = JSON.parse(payload.subarray(4, 4 + metaLen).toString('utf8')) as SnapshotMeta;
  return { meta, data: Uint8Array.prototype.slice.call(payload, 4 + metaLen) };
}

async function readSegments(dir: string, names: string[], snapIndex: number): Promise<{ segments: Segment[]; entries: Entry[]; torn: boolean }> {
  const files = names.filter((n) => /^\d{20}\.seg$/.test(n)).sort();
  const segments: Segment[] = [];
  const entries: Entry[] = [];
  let torn = false;
  let expect: number | null = null;
  for (let f = 0; f < files.length; f++) {
    const name = files[f] as string;
    const path = join(dir, name);
    const first = Number(name.slice(0, 20));
    const buf = await readFile(path);
    const isLast = f === files.length - 1;
    if (expect !== null && first !== expect) throw corrupt(path, 0, `segment starts at index ${first}, expected ${expect}`);
    let offset = 0;
    let last: number = first - 1;
    while (offset < buf.length) {
      const r = decodeRecord(buf, offset);
      if (!r.ok) {
        if (isLast && isTornTail(buf, offset, r.partial)) {
          const fh = await open(path, 'r+');
          await fh.truncate(offset);
          await fh.sync();
          await fh.close();
          torn = true;
          break;
        }
        throw corrupt(path, offset, r.reason);
      }
      if (r.entry.index !== last + 1) throw corrupt(path, offset, `index ${r.entry.index} does not follow ${last}`);
      last = r.entry.index;
      if (last > snapIndex) entries.push(r.entry);
      offset = r.next;
    }
    segments.push({ first, path, last, size: Math.min(offset, buf.length) });
    expect = last + 1;
  }
  if (entries.length > 0 && (entries[0] as Entry).index !== snapIndex + 1) {
    throw corrupt(dir, 0, `the log starts at index ${(entries[0] as Entry).index} but the snapshot ends at ${snapIndex}`);
  }
  return { segments, entries, torn };
}

/** What a crash mid-write leaves: a partial record, a bad last record, or zeros to the end. */
function isTornTail(buf: Buffer, offset: number, partial: boolean): boolean {
  if (partial) return true;
  const len = buf.readUInt32LE(offset);
  if (offset + 8 + len === buf.length) return true;
  for (let i = offset; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}
