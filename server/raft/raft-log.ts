// The core's view of the log: a snapshot point, the entries after it (the
// persisted ones and the unstable tail the driver has yet to persist), and
// the commit and apply positions.

import type { Entry, Snapshot } from './types.js';

export class RaftInvariantError extends Error {
  override readonly name = 'RaftInvariantError';
  readonly code = 'CT_RAFT_INVARIANT';
}

export class RaftLog {
  /** Index and term of the last entry covered by the snapshot (0, 0 if none). */
  snapshotIndex: number;
  snapshotTerm: number;
  /** Entries snapshotIndex+1 .. lastIndex(). */
  private entries: Entry[];
  /** Entries up to here are persisted. */
  private stable: number;
  committed: number;
  /** Entries up to here were handed to the driver to apply (advance() confirms). */
  applying: number;
  applied: number;
  /** The latest snapshot, kept to send to followers that fell behind the log. */
  snapshot: Snapshot | null;
  /** A snapshot received from the leader, not yet persisted and restored. */
  pendingSnapshot: Snapshot | null = null;

  constructor(snapshot: Snapshot | null, entries: readonly Entry[], committed: number, applied: number) {
    this.snapshot = snapshot;
    this.snapshotIndex = snapshot?.meta.index ?? 0;
    this.snapshotTerm = snapshot?.meta.term ?? 0;
    this.entries = [...entries];
    for (const [i, e] of this.entries.entries()) {
      if (e.index !== this.snapshotIndex + 1 + i) throw new RaftInvariantError(`restored log is not contiguous at index ${e.index}`);
    }
    this.stable = this.lastIndex();
    this.committed = Math.max(committed, this.snapshotIndex);
    this.applied = Math.max(applied, this.snapshotIndex);
    this.applying = this.applied;
    if (this.committed > this.lastIndex()) throw new RaftInvariantError(`commit index ${this.committed} is past the last index ${this.lastIndex()}`);
  }

  firstIndex(): number {
    return this.snapshotIndex + 1;
  }

  lastIndex(): number {
    return this.snapshotIndex + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  /** The term of the entry at `index`; undefined if compacted away or not there. */
  term(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    if (index < this.snapshotIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.snapshotIndex - 1]?.term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** A candidate's log is at least as up to date as ours (Raft §5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Entries [lo, hi), at most `maxBytes` of data (always at least one); null if lo is compacted away. */
  slice(lo: number, hi: number, maxBytes = Infinity): Entry[] | null {
    if (lo <= this.snapshotIndex) return null;
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi && i <= this.lastIndex(); i++) {
      const e = this.entries[i - this.snapshotIndex - 1];
      if (e === undefined) break;
      bytes += e.data.length;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Append entries that follow or overwrite our tail (the leader's own, or a follower's after conflict checks). */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    if (first.index <= this.committed) throw new RaftInvariantError(`would overwrite committed entry ${first.index} (commit ${this.committed})`);
    if (first.index > this.lastIndex() + 1) throw new RaftInvariantError(`gap in log: appending ${first.index} after ${this.lastIndex()}`);
    this.entries.length = first.index - this.snapshotIndex - 1;
    this.stable = Math.min(this.stable, first.index - 1);
    for (const e of entries) this.entries.push(e);
  }

  /** The first entry whose term differs from ours, or is new; 0 if we have them all. */
  findConflict(entries: readonly Entry[]): number {
    for (const e of entries) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`: every entry above it
   * in our log conflicts with a leader whose entry at `index` has `term`.
   */
  findConflictByTerm(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex());
    for (;;) {
      const t = this.term(i);
      if (t === undefined || t <= term) return i;
      i--;
    }
  }

  /** A follower's conflict-checked append; returns the last new index, or null if prev does not match. */
  maybeAppend(prevIndex: number, prevTerm: number, commit: number, entries: readonly Entry[]): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNew = prevIndex + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      if (conflict <= this.committed) throw new RaftInvariantError(`entry ${conflict} conflicts with a committed entry (commit ${this.committed})`);
      this.append(entries.slice(conflict - prevIndex - 1));
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    if (index > this.lastIndex()) throw new RaftInvariantError(`commit ${index} is past the last index ${this.lastIndex()}`);
    this.committed = index;
  }

  unstableEntries(): Entry[] {
    return this.entries.slice(this.stable - this.snapshotIndex);
  }

  /** The entry at `index` was persisted (if it is still the one with `term`). */
  stableTo(index: number, term: number): void {
    if (this.matchTerm(index, term) && index > this.stable) this.stable = index;
  }

  /** Committed entries not yet handed out for applying, at most `maxBytes` (at least one). */
  nextCommitted(maxBytes: number): Entry[] {
    if (this.pendingSnapshot !== null) return [];
    const lo = Math.max(this.applying + 1, this.firstIndex());
    return this.slice(lo, this.committed + 1, maxBytes) ?? [];
  }

  appliedTo(index: number): void {
    this.applied = Math.max(this.applied, index);
    this.applying = Math.max(this.applying, this.applied);
  }

  /** Replace the whole log with a snapshot from the leader. */
  restore(snapshot: Snapshot): void {
    this.entries = [];
    this.snapshotIndex = snapshot.meta.index;
    this.snapshotTerm = snapshot.meta.term;
    this.stable = snapshot.meta.index;
    this.committed = snapshot.meta.index;
    this.pendingSnapshot = snapshot;
  }

  /** The driver persisted and restored `snapshot`. */
  snapshotApplied(snapshot: Snapshot): void {
    if (this.pendingSnapshot === snapshot) this.pendingSnapshot = null;
    if (this.snapshot === null || snapshot.meta.index > this.snapshot.meta.index) this.snapshot = snapshot;
    this.appliedTo(snapshot.meta.index);
  }

  /** Drop entries up to `snapshot`'s index (which must be applied) and keep the snapshot. */
  compact(snapshot: Snapshot): void {
    const index = snapshot.meta.index;
    if (index <= this.snapshotIndex) return;
    if (index > this.applied) throw new RaftInvariantError(`cannot compact to ${index}: only ${this.applied} applied`);
    this.entries = this.entries.slice(index - this.snapshotIndex);
    this.snapshotIndex = index;
    this.snapshotTerm = snapshot.meta.term;
    this.snapshot = snapshot;
  }
}
