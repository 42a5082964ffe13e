// A cluster of one: light mode and `--bootstrap-expect 1`.
//
// The log has Raft's shape (term, index, entries, hard state, snapshots) and
// lives in the same on-disk format as a replicated server's, so a light-mode
// data directory is a one-server cluster's. With a single voter an entry is
// committed as soon as it is durable: propose() appends (the storage batches
// concurrent appends into one fdatasync), then applies entries strictly in
// index order and resolves each proposal with its apply() result. Each start
// is a new term, as a Raft election of one would make it.

import type { Entry } from '../raft/types.js';
import { EntryType } from '../raft/types.js';
import { DiskLog } from '../storage/disk-log.js';
import { ClusterError, type ClusterNode, type Member, type ReplicatedStateMachine } from './cluster-node.js';

export interface SingleServerOptions<R> {
  readonly dir: string;
  readonly nodeName: string;
  readonly address: string;
  readonly stateMachine: ReplicatedStateMachine<R>;
  /** Take a snapshot and drop the log behind it every this many entries. */
  readonly snapshotEvery?: number;
  /** A write failed in a way the node cannot recover from (disk full, I/O error). */
  readonly onFatal?: (err: Error) => void;
}

interface Waiter<R> {
  resolve(result: R): void;
  reject(err: Error): void;
}

export class SingleServerNode<R> implements ClusterNode<R> {
  readonly nodeName: string;
  private nextIndex: number;
  private appliedIndex: number;
  private readonly waiting = new Map<number, Waiter<R>>();
  private readonly durable = new Map<number, Entry>();
  private sinceSnapshot = 0;
  private snapshotting = false;
  private closed = false;
  private failed: Error | null = null;

  private constructor(
    private readonly log: DiskLog,
    private readonly term: number,
    lastIndex: number,
    private readonly options: SingleServerOptions<R>,
  ) {
    this.nodeName = options.nodeName;
    this.nextIndex = lastIndex + 1;
    this.appliedIndex = lastIndex;
  }

  static async open<R>(options: SingleServerOptions<R>): Promise<SingleServerNode<R>> {
    const { log, recovered } = await DiskLog.open(options.dir);
    const sm = options.stateMachine;
    if (recovered.snapshot) sm.restore(recovered.snapshot.data);
    for (const e of recovered.entries) {
      if (e.type === EntryType.Normal && e.data.length > 0) sm.apply(e.data, e.index);
    }
    const term = recovered.hardState.term + 1;
    const last = log.lastIndex();
    await log.setHardState({ term, vote: options.nodeName, commit: last });
    return new SingleServerNode(log, term, last, options);
  }

  propose(data: Uint8Array): Promise<R> {
    if (this.closed) return Promise.reject(new ClusterError('CT_CLUSTER_CLOSED', 'the server is shutting down'));
    if (this.failed) return Promise.reject(new ClusterError('CT_CLUSTER_STORAGE', `the log cannot be written: ${this.failed.message}`, { cause: this.failed }));
    const entry: Entry = { term: this.term, index: this.nextIndex++, type: EntryType.Normal, data };
    return new Promise<R>((resolve, reject) => {
      this.waiting.set(entry.index, { resolve, reject });
      this.log.append([entry]).then(
        () => this.onDurable(entry),
        (err: unknown) => this.fail(err instanceof Error ? err : new Error(String(err))),
      );
    });
  }

  /** Apply every durable entry that is next in line, in index order. */
  private onDurable(entry: Entry): void {
    this.durable.set(entry.index, entry);
    for (let next = this.durable.get(this.appliedIndex + 1); next; next = this.durable.get(this.appliedIndex + 1)) {
      this.durable.delete(next.index);
      this.appliedIndex = next.index;
      const waiter = this.waiting.get(next.index);
      this.waiting.delete(next.index);
      // apply() throwing means a broken invariant: it propagates and stops the node.
      const result = this.options.stateMachine.apply(next.data, next.index);
      waiter?.resolve(result);
      this.sinceSnapshot++;
    }
    if (this.sinceSnapshot >= (this.options.snapshotEvery ?? 10_000)) this.takeSnapshot();
  }

  private takeSnapshot(): void {
    if (this.snapshotting || this.closed) return;
    this.snapshotting = true;
    this.sinceSnapshot = 0;
    const meta = { index: this.appliedIndex, term: this.term, conf: { voters: [this.nodeName], learners: [] } };
    const data = this.options.stateMachine.snapshot();
    this.log.saveSnapshot({ meta, data }).then(
      () => { this.snapshotting = false; },
      (err: unknown) => this.fail(err instanceof Error ? err : new Error(String(err))),
    );
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    for (const w of this.waiting.values()) {
      w.reject(new ClusterError('CT_CLUSTER_STORAGE', `the log cannot be written: ${err.message}`, { cause: err }));
    }
    this.waiting.clear();
    this.options.onFatal?.(err);
  }

  isLeader(): boolean {
    return !this.closed && !this.failed;
  }

  leaderName(): string | null {
    return this.isLeader() ? this.nodeName : null;
  }

  members(): Member[] {
    return [{ name: this.nodeName, address: this.options.address, role: 'leader', voter: true, status: 'alive' }];
  }

  onLeadershipChange(listener: (leader: boolean) => void): () => void {
    queueMicrotask(() => listener(this.isLeader()));
    return () => {};
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.log.close();
  }
}
