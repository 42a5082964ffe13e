// A simulated disk for the log (server/storage/storage-fs.ts's interface),
// with the guarantees of POSIX and no more, and faults at the byte level:
//
// - File contents are durable only after fsync/fdatasync of that file; the
//   writes and truncations since are pending. A crash keeps a prefix of them,
//   the last one kept possibly torn (any prefix of its bytes).
// - Directory entries (create, rename, remove) are durable only after an
//   fsync of the directory; a crash keeps a prefix of the pending ones. A file
//   fsynced but never linked durably is lost.
// - Faults, chosen by the caller: a short write (fewer bytes than asked, then
//   an error), a write error (ENOSPC), an fsync error (EIO: what was pending
//   stays pending), and a crash at the Nth call (that call and every later one
//   fail; `crash()` then decides what survived).
//
// Everything resolves in microtasks, in call order: with a seeded choice of
// faults a run replays exactly.

import { constants } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { StorageFile, StorageFs } from '../../server/storage/storage-fs.js';
import type { Prng } from './prng.js';

type FileOp = { kind: 'write'; at: number; data: Buffer } | { kind: 'truncate'; length: number };
type DirOp = { kind: 'link'; name: string; ino: number } | { kind: 'unlink'; name: string } | { kind: 'rename'; from: string; to: string };

interface Inode {
  data: Buffer;
  durable: Buffer;
  pending: FileOp[];
}

export type FsFault = 'short-write' | 'write-error' | 'fsync-error';

export class SimFsError extends Error {
  constructor(readonly code: string, message: string) {
    super(`${code}: ${message}`);
  }
}

export class SimFs implements StorageFs {
  /** Calls made so far (crashAfter counts these). */
  calls = 0;
  /** Crash when the call count reaches this (the call itself fails). */
  crashAt = Number.POSITIVE_INFINITY;
  /** One fault for the next matching call. */
  fault: FsFault | null = null;
  private crashed = false;
  private readonly inodes = new Map<number, Inode>();
  private nextIno = 1;
  /** name -> inode, as the running system sees it; `durableDir` as a crash would leave it with no pending ops. */
  private dir = new Map<string, number>();
  private durableDir = new Map<string, number>();
  private dirOps: DirOp[] = [];
  private readonly handles = new Set<SimFile>();

  constructor(readonly root: string) {}

  // ---------------------------------------------------------------- StorageFs

  mkdir(): Promise<unknown> {
    return this.step(() => undefined);
  }

  readdir(path: string): Promise<string[]> {
    return this.step(() => {
      this.checkRoot(path);
      return [...this.dir.keys()].sort();
    });
  }

  readFile(path: string): Promise<Buffer> {
    return this.step(() => Buffer.from(this.inodeOf(path).data));
  }

  rm(path: string): Promise<void> {
    return this.step(() => {
      const name = this.nameOf(path);
      if (!this.dir.has(name)) return;
      this.dir.delete(name);
      this.dirOps.push({ kind: 'unlink', name });
    });
  }

  rename(from: string, to: string): Promise<void> {
    return this.step(() => {
      const a = this.nameOf(from);
      const b = this.nameOf(to);
      const ino = this.dir.get(a);
      if (ino === undefined) throw new SimFsError('ENOENT', `rename ${from}`);
      this.dir.delete(a);
      this.dir.set(b, ino);
      this.dirOps.push({ kind: 'rename', from: a, to: b });
    });
  }

  open(path: string, flags: string | number): Promise<StorageFile> {
    return this.step(() => {
      if (path === this.root) return this.handle(null);
      const name = this.nameOf(path);
      const create = typeof flags === 'number' ? (flags & constants.O_CREAT) !== 0 : flags === 'w' || flags === 'w+';
      const truncate = typeof flags === 'number' ? (flags & constants.O_TRUNC) !== 0 : flags === 'w' || flags === 'w+';
      let ino = this.dir.get(name);
      if (ino === undefined) {
        if (!create) throw new SimFsError('ENOENT', `open ${path}`);
        ino = this.nextIno++;
        this.inodes.set(ino, { data: Buffer.alloc(0), durable: Buffer.alloc(0), pending: [] });
        this.dir.set(name, ino);
        this.dirOps.push({ kind: 'link', name, ino });
      } else if (truncate) {
        this.fileOp(ino, { kind: 'truncate', length: 0 });
      }
      return this.handle(ino);
    });
  }

  // ---------------------------------------------------------------- the crash

  /**
   * The machine stops: every handle dies, and what is on the disk is what was
   * durable plus a random prefix of what was pending (the last kept write
   * possibly torn). The disk is then usable again, as after a reboot.
   */
  crash(rng: Prng): void {
    for (const h of this.handles) h.dead = true;
    this.handles.clear();
    const keepDir = rng.int(this.dirOps.length + 1);
    const dir = new Map(this.durableDir);
    for (const op of this.dirOps.slice(0, keepDir)) applyDirOp(dir, op);
    for (const inode of this.inodes.values()) {
      let data: Buffer = Buffer.from(inode.durable);
      const keep = rng.int(inode.pending.length + 1);
      for (let i = 0; i < keep; i++) {
        const op = inode.pending[i] as FileOp;
        const torn = i === keep - 1 && op.kind === 'write' && rng.chance(0.5);
        data = applyFileOp(data, torn && op.kind === 'write' ? { ...op, data: op.data.subarray(0, rng.int(op.data.length + 1)) } : op);
      }
      inode.data = data;
      inode.durable = Buffer.from(data);
      inode.pending = [];
    }
    this.dir = dir;
    this.durableDir = new Map(dir);
    this.dirOps = [];
    for (const [ino] of this.inodes) if (![...dir.values()].includes(ino)) this.inodes.delete(ino);
    this.crashed = false;
    this.crashAt = Number.POSITIVE_INFINITY;
    this.fault = null;
  }

  /** The names in the directory as the running system sees it (for checks). */
  names(): string[] {
    return [...this.dir.keys()].sort();
  }

  // ---------------------------------------------------------------- inside

  /** One call: counts it, fails it if the machine has crashed, else runs it. */
  private step<T>(run: () => T): Promise<T> {
    this.calls++;
    if (!this.crashed && this.calls >= this.crashAt) this.crashed = true;
    if (this.crashed) return Promise.reject(new SimFsError('ECRASHED', 'the machine has crashed'));
    try {
      return Promise.resolve(run());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private handle(ino: number | null): SimFile {
    const h = new SimFile(this, ino);
    this.handles.add(h);
    return h;
  }

  /** @internal for SimFile */
  run<T>(h: SimFile, what: () => T): Promise<T> {
    return this.step(() => {
      if (h.dead || h.closed) throw new SimFsError('EBADF', 'the file handle is closed');
      return what();
    });
  }

  /** @internal */
  fileOp(ino: number, op: FileOp): void {
    const inode = this.inodes.get(ino) as Inode;
    inode.data = applyFileOp(inode.data, op);
    inode.pending.push(op);
  }

  /** @internal */
  syncFile(ino: number | null): void {
    if (this.fault === 'fsync-error') {
      this.fault = null;
      throw new SimFsError('EIO', 'fsync failed');
    }
    if (ino === null) {
      this.durableDir = new Map(this.dir);
      this.dirOps = [];
      return;
    }
    const inode = this.inodes.get(ino) as Inode;
    inode.durable = Buffer.from(inode.data);
    inode.pending = [];
  }

  /** @internal */
  takeFault(kinds: readonly FsFault[]): FsFault | null {
    const f = this.fault;
    if (f === null || !kinds.includes(f)) return null;
    this.fault = null;
    return f;
  }

  private checkRoot(path: string): void {
    if (path !== this.root) throw new SimFsError('ENOENT', `${path} is not the simulated directory ${this.root}`);
  }

  private nameOf(path: string): string {
    this.checkRoot(dirname(path));
    return basename(path);
  }

  private inodeOf(path: string): Inode {
    const ino = this.dir.get(this.nameOf(path));
    if (ino === undefined) throw new SimFsError('ENOENT', `no such file ${path}`);
    return this.inodes.get(ino) as Inode;
  }
}

class SimFile implements StorageFile {
  dead = false;
  closed = false;
  constructor(private readonly fs: SimFs, private readonly ino: number | null) {}

  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }> {
    return this.fs.run(this, () => {
      const ino = this.file();
      const fault = this.fs.takeFault(['short-write', 'write-error']);
      if (fault === 'write-error') throw new SimFsError('ENOSPC', 'no space left on device');
      // A short write: some bytes land, and the caller's next write fails.
      const n = fault === 'short-write' ? Math.floor(length / 2) : length;
      if (fault === 'short-write') this.fs.fault = 'write-error';
      this.fs.fileOp(ino, { kind: 'write', at: position, data: Buffer.from(buffer.subarray(offset, offset + n)) });
      return { bytesWritten: n };
    });
  }

  writeFile(data: Uint8Array): Promise<void> {
    return this.fs.run(this, () => {
      const ino = this.file();
      if (this.fs.takeFault(['write-error', 'short-write'])) throw new SimFsError('ENOSPC', 'no space left on device');
      this.fs.fileOp(ino, { kind: 'truncate', length: 0 });
      this.fs.fileOp(ino, { kind: 'write', at: 0, data: Buffer.from(data) });
    });
  }

  truncate(length: number): Promise<void> {
    return this.fs.run(this, () => this.fs.fileOp(this.file(), { kind: 'truncate', length }));
  }

  sync(): Promise<void> {
    return this.fs.run(this, () => this.fs.syncFile(this.ino));
  }

  datasync(): Promise<void> {
    return this.sync();
  }

  close(): Promise<void> {
    if (this.dead || this.closed) return Promise.resolve();
    this.closed = true;
    return Promise.resolve();
  }

  private file(): number {
    if (this.ino === null) throw new SimFsError('EISDIR', 'a directory');
    return this.ino;
  }
}

function applyFileOp(data: Buffer, op: FileOp): Buffer {
  if (op.kind === 'truncate') return op.length <= data.length ? Buffer.from(data.subarray(0, op.length)) : Buffer.concat([data, Buffer.alloc(op.length - data.length)]);
  const end = op.at + op.data.length;
  const out = end > data.length ? Buffer.concat([data, Buffer.alloc(end - data.length)]) : Buffer.from(data);
  out.set(op.data, op.at);
  return out;
}

function applyDirOp(dir: Map<string, number>, op: DirOp): void {
  if (op.kind === 'link') dir.set(op.name, op.ino);
  else if (op.kind === 'unlink') dir.delete(op.name);
  else {
    const ino = dir.get(op.from);
    dir.delete(op.from);
    if (ino !== undefined) dir.set(op.to, ino);
  }
}
