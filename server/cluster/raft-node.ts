// The Raft node driver: the pure core plus the durable log, a clock and a
// transport. It runs the core's Ready loop — persist (fsync), then send, then
// apply — one Ready at a time; whatever arrives while the disk is busy is
// batched into the next Ready, which is the group commit.
//
// Proposals resolve with the state machine's result once the entry is
// applied here with the term it was proposed in, and only while this node
// still leads that term: a deposed leader never acts on a write that a new
// leader finished for it. Leadership is announced only once the leader has
// applied an entry of its own term, so it acts on a complete state.

import { RaftCore, decodeConfChange } from '../raft/raft-core.js';
import { bootstrapState, joiningState } from '../raft/bootstrap.js';
import { EntryType, type ConfChange, type ConfState, type Entry, type HardState, type Message, type RestoredState, type Snapshot } from '../raft/types.js';
import { DiskLog } from '../storage/disk-log.js';
import type { StorageFs } from '../storage/storage-fs.js';
import { ClusterError, snapshotInSlices, type ClusterNode, type Member, type ReplicatedStateMachine } from './cluster-node.js';
import { decodeMemberAddress, encodeMemberAddress, type MemberAddress } from './member-address.js';

/**
 * Time for the driver: the real clock by default; the simulation passes its
 * own, so the production driver runs on simulated time.
 */
export interface NodeClock {
  now(): number;
  /** Call `fn` every `ms`; returns the cancel. */
  every(ms: number, fn: () => void): () => void;
  /** Call `fn` once after `ms`; returns the cancel. */
  after(ms: number, fn: () => void): () => void;
}

export const realClock: NodeClock = {
  now: () => Date.now(),
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return () => clearInterval(t);
  },
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

export interface RaftMessageTransport {
  send(messages: readonly Message[]): void;
  setPeer(id: string, address: string): void;
  removePeer(id: string): void;
}

export interface RaftNodeOptions<R> {
  readonly dir: string;
  readonly nodeName: string;
  readonly address: MemberAddress;
  readonly stateMachine: ReplicatedStateMachine<R>;
  readonly transport: RaftMessageTransport;
  /**
   * For an empty data directory: the initial members to bootstrap a new
   * cluster with (every initial server must pass the same set), or 'join'
   * to wait to be added to an existing cluster. Ignored when the directory
   * already holds a log.
   */
  readonly start: readonly { readonly id: string; readonly address: MemberAddress }[] | 'join';
  /** Milliseconds per Raft tick (default 100); elections time out after 10-20 ticks. */
  readonly tickMs?: number;
  readonly electionTicks?: number;
  /** Take a snapshot and compact the log every this many applied entries. */
  readonly snapshotEvery?: number;
  /**
   * ... or once the entries applied since the last snapshot hold this many
   * bytes (default 64 MiB), or as many as the last snapshot if that is
   * larger (so a large state is not written again for every few entries):
   * the log kept in memory stays bounded however large the entries are.
   */
  readonly snapshotBytes?: number;
  /** The largest entry a proposal may make (default maxEntryBytes); a larger one is refused. */
  readonly maxEntryBytes?: number;
  readonly random?: () => number;
  readonly onFatal?: (err: Error) => void;
  readonly log?: (line: string, fields?: Readonly<Record<string, unknown>>) => void;
  readonly metrics?: RaftMetrics;
  /** Default: the real clock. */
  readonly clock?: NodeClock;
  /** The file system the log is on (default: node's; the simulation's disk in tests). */
  readonly fs?: StorageFs;
}

/** What the driver reports to a metrics registry. */
export interface RaftMetrics {
  /** A new leader is known (this server or another). */
  leaderChanged(): void;
  /** One batch of entries was appended to the log and fsynced. */
  persisted(entries: number, seconds: number): void;
}

interface Waiter<R> {
  readonly term: number;
  resolve(result: R): void;
  reject(err: Error): void;
}

interface ReadWaiter {
  index: number | null;
  resolve(): void;
  reject(err: Error): void;
  cancelTimer: () => void;
}

const readTimeoutMs = 5000;

/**
 * The largest log entry (4 MiB). With the core's 1 MiB of entries per
 * append message, no Raft message is larger than this plus its header,
 * far below the 64 MiB gRPC receive limit of the transport.
 */
export const maxEntryBytes = 4 * 1024 * 1024;
const defaultSnapshotBytes = 64 * 1024 * 1024;

export class RaftNode<R> implements ClusterNode<R> {
  readonly nodeName: string;
  private readonly core: RaftCore;
  private readonly waiting = new Map<number, Waiter<R>>();
  private readonly confWaiting = new Map<number, Waiter<ConfState>>();
  private readonly reads = new Map<string, ReadWaiter>();
  private readonly listeners = new Set<(leader: boolean) => void>();
  private readonly addresses = new Map<string, MemberAddress>();
  /** When each peer last answered our appends or heartbeats (ms since epoch). */
  private readonly answeredAt = new Map<string, number>();
  private readonly clock: NodeClock;
  private readonly stopTicker: () => void;
  private persisted: HardState;
  private applied: number;
  private sinceSnapshot = 0;
  private sinceSnapshotBytes = 0;
  private lastSnapshotBytes = 0;
  /** A snapshot of the state at `index` being serialised. */
  private snapshotting = false;
  /** Serialised, waiting for the loop to compact and write it. */
  private ownSnapshot: { readonly index: number; readonly data: Uint8Array } | null = null;
  private processing = false;
  private scheduled = false;
  private closed = false;
  private failed: Error | null = null;
  /** Index of the first entry of our current leader term (the no-op); leadership is announced once it is applied. */
  private leaderSince: { term: number; index: number } | null = null;
  private announcedLeader = false;
  private nextReadId = 0;
  /** Terms this process led: an entry of one of them was proposed here. */
  private readonly ledTerms = new Set<number>();
  private knownLeader: string | null = null;

  private constructor(
    private readonly log: DiskLog,
    restored: RestoredState,
    private readonly options: RaftNodeOptions<R>,
  ) {
    this.nodeName = options.nodeName;
    this.persisted = restored.hardState;
    this.applied = restored.applied;
    this.lastSnapshotBytes = restored.snapshot?.data.length ?? 0;
    const electionTicks = options.electionTicks ?? 10;
    this.core = new RaftCore({
      id: options.nodeName, electionTicks, heartbeatTicks: Math.max(1, Math.floor(electionTicks / 10)),
      random: options.random ?? Math.random, preVote: true, checkQuorum: true,
    }, restored);
    this.clock = options.clock ?? realClock;
    this.stopTicker = this.clock.every(options.tickMs ?? 100, () => {
      this.core.tick();
      this.schedule();
    });
  }

  static async open<R>(options: RaftNodeOptions<R>): Promise<RaftNode<R>> {
    const { log, recovered } = await DiskLog.open(options.dir, options.fs ? { fs: options.fs } : {});
    const sm = options.stateMachine;
    let restored: RestoredState;
    const addresses = new Map<string, MemberAddress>();
    const fresh = recovered.snapshot === null && recovered.entries.length === 0 && recovered.hardState.term === 0;
    if (fresh) {
      restored = options.start === 'join' ? joiningState : bootstrapState(options.start.map((m) => ({ id: m.id, address: encodeMemberAddress(m.address) })));
      if (restored.entries.length > 0) await log.append(restored.entries);
      await log.setHardState(restored.hardState);
    } else {
      let conf: ConfState = { voters: [], learners: [] };
      if (recovered.snapshot) {
        const { members, state } = splitSnapshot(recovered.snapshot.data);
        for (const [id, a] of members) addresses.set(id, a);
        sm.restore(state);
        conf = recovered.snapshot.meta.conf;
      }
      restored = {
        hardState: recovered.hardState, snapshot: recovered.snapshot, entries: recovered.entries, conf,
        applied: recovered.snapshot?.meta.index ?? 0,
      };
    }
    const node = new RaftNode(log, restored, options);
    for (const [id, a] of addresses) node.learnAddress(id, a);
    node.schedule();
    return node;
  }

  // ---------------------------------------------------------------- the Ready loop

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      void this.process();
    });
  }

  private async process(): Promise<void> {
    if (this.processing || this.closed || this.failed) return;
    this.processing = true;
    try {
      while (this.core.hasReady() && !this.closed) {
        const rd = this.core.ready();
        if (rd.snapshot) await this.log.saveSnapshot(rd.snapshot);
        if (rd.entries.length > 0) {
          const t0 = performance.now();
          await this.log.append(rd.entries);
          this.options.metrics?.persisted(rd.entries.length, (performance.now() - t0) / 1000);
        }
        // Term and vote must be durable before we answer anyone; the commit
        // index need not be (it is learned again): it rides along, and
        // setCommit below records it cheaply for the check on open.
        if (rd.hardState && (rd.hardState.term !== this.persisted.term || rd.hardState.vote !== this.persisted.vote)) {
          await this.log.setHardState(rd.hardState);
          this.persisted = rd.hardState;
        }
        this.options.transport.send(rd.messages);
        // Recorded so a restart can tell a log cut short from a torn write (no fsync of its own).
        if (rd.hardState) await this.log.setCommit(rd.hardState.commit);
        if (rd.snapshot) this.restoreSnapshot(rd.snapshot);
        for (const e of rd.committed) this.applyEntry(e);
        for (const rs of rd.readStates) {
          const w = this.reads.get(rs.requestId);
          if (w) w.index = rs.index;
        }
        this.core.advance(rd);
        if (rd.softState) this.onSoftState();
        this.settleReads();
        this.campaignIfAlone();
        this.checkLeadership();
        await this.maybeSnapshot();
      }
      if (!this.closed) await this.installOwnSnapshot();
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.processing = false;
    }
    if (this.core.hasReady()) this.schedule();
  }

  private applyEntry(e: Entry): void {
    this.applied = e.index;
    this.sinceSnapshot++;
    this.sinceSnapshotBytes += e.data.length;
    if (e.type === EntryType.ConfChange) {
      const cc = decodeConfChange(e.data);
      const conf = this.core.applyConfChange(cc);
      if (cc.type === 'remove') this.forgetAddress(cc.node);
      else this.learnAddress(cc.node, decodeMemberAddress(cc.address));
      this.settle(this.confWaiting, e, conf);
      this.rejectAt(this.waiting, e.index, 'a membership change took the place of this write; it was not applied');
      return;
    }
    this.rejectAt(this.confWaiting, e.index, 'another entry took the place of this membership change; it was not applied');
    // A new leader's empty no-op has nothing to apply.
    const result = e.data.length > 0 ? this.options.stateMachine.apply(e.data, e.index, this.ledTerms.has(e.term)) : undefined;
    const waiter = this.waiting.get(e.index);
    if (waiter === undefined) return;
    this.waiting.delete(e.index);
    if (waiter.term !== e.term || this.core.term !== e.term || this.core.role !== 'leader') {
      waiter.reject(new ClusterError('CT_CLUSTER_NOT_LEADER', 'leadership changed before this write was applied; its outcome is decided by the new leader'));
    } else {
      waiter.resolve(result as R);
    }
  }

  private rejectAt<T>(waiting: Map<number, Waiter<T>>, index: number, why: string): void {
    const w = waiting.get(index);
    if (w === undefined) return;
    waiting.delete(index);
    w.reject(new ClusterError('CT_CLUSTER_NOT_LEADER', why));
  }

  /** Settle every pending write and membership change with `err` (step-down, storage failure, close). */
  private rejectPending(err: ClusterError, upTo = Number.POSITIVE_INFINITY): void {
    for (const waiting of [this.waiting, this.confWaiting] as Map<number, Waiter<unknown>>[]) {
      for (const [index, w] of waiting) {
        if (index > upTo) continue;
        waiting.delete(index);
        w.reject(err);
      }
    }
  }

  private settle<T>(waiting: Map<number, Waiter<T>>, e: Entry, value: T): void {
    const w = waiting.get(e.index);
    if (w === undefined) return;
    waiting.delete(e.index);
    if (w.term === e.term) w.resolve(value);
    else w.reject(new ClusterError('CT_CLUSTER_NOT_LEADER', 'leadership changed before the change was committed'));
  }

  private restoreSnapshot(snapshot: Snapshot): void {
    const { members, state } = splitSnapshot(snapshot.data);
    this.options.stateMachine.restore(state);
    for (const id of [...this.addresses.keys()]) if (!members.has(id)) this.forgetAddress(id);
    for (const [id, a] of members) this.learnAddress(id, a);
    this.applied = snapshot.meta.index;
    this.sinceSnapshot = 0;
    this.sinceSnapshotBytes = 0;
    this.lastSnapshotBytes = snapshot.data.length;
    // Proposals at or below the snapshot can no longer be matched to a result.
    this.rejectPending(new ClusterError('CT_CLUSTER_NOT_LEADER', 'replaced by a snapshot from the leader; outcome unknown'), snapshot.meta.index);
  }

  /**
   * Snapshot once enough was applied since the last one. The state is
   * captured at once (at `applied`) and, when the state machine can, serialised
   * in slices while the loop goes on; the compaction and the write happen in
   * the loop once the bytes are ready.
   */
  private async maybeSnapshot(): Promise<void> {
    if (this.ownSnapshot !== null) {
      await this.installOwnSnapshot();
      return;
    }
    if (this.snapshotting) return;
    const byteBudget = Math.max(this.options.snapshotBytes ?? defaultSnapshotBytes, this.lastSnapshotBytes);
    if (this.sinceSnapshot < (this.options.snapshotEvery ?? 10_000) && this.sinceSnapshotBytes < byteBudget) return;
    this.sinceSnapshot = 0;
    this.sinceSnapshotBytes = 0;
    const index = this.applied;
    const members = new Map(this.addresses);
    // One slice per turn of the event loop (through the injected clock), so
    // the loop, heartbeats and the API go on while a big state serialises.
    this.snapshotting = true;
    snapshotInSlices(this.options.stateMachine, (next) => this.clock.after(0, () => {
      if (this.closed || this.failed) return; // the promise is dropped with the node
      next();
    })).then((state) => {
      this.snapshotting = false;
      if (this.closed || this.failed) return;
      this.ownSnapshot = { index, data: joinSnapshot(members, state) };
      this.schedule();
    }, (err: unknown) => {
      this.snapshotting = false;
      this.fail(err instanceof Error ? err : new Error(String(err)));
    });
  }

  private async installOwnSnapshot(): Promise<void> {
    const ready = this.ownSnapshot;
    if (ready === null) return;
    this.ownSnapshot = null;
    this.lastSnapshotBytes = ready.data.length;
    // Null when a snapshot from the leader already covers the index.
    const snapshot = this.core.compact(ready.index, ready.data);
    if (snapshot) await this.log.saveSnapshot(snapshot);
  }

  /**
   * Tell a joining server where the current members are, so it can answer
   * the leader before its log has taught it (the log will say the same).
   */
  introduce(id: string, address: MemberAddress): void {
    if (!this.addresses.has(id)) this.learnAddress(id, address);
  }

  private learnAddress(id: string, address: MemberAddress): void {
    this.addresses.set(id, address);
    if (id !== this.nodeName) this.options.transport.setPeer(id, address.rpc);
  }

  private forgetAddress(id: string): void {
    this.addresses.delete(id);
    if (id !== this.nodeName) this.options.transport.removePeer(id);
  }

  private onSoftState(): void {
    const leader = this.core.leader;
    if (leader !== null && leader !== this.knownLeader) this.options.metrics?.leaderChanged();
    this.knownLeader = leader;
    if (this.core.role === 'leader') {
      this.ledTerms.add(this.core.term);
      if (this.leaderSince?.term !== this.core.term) this.leaderSince = { term: this.core.term, index: this.core.lastIndex() };
    } else {
      this.leaderSince = null;
      this.rejectPending(new ClusterError('CT_CLUSTER_NOT_LEADER', 'this server stopped leading before the change committed; it may or may not have been applied'));
    }
  }

  /** The only voter need not wait out an election timeout to lead. */
  private campaignIfAlone(): void {
    if (this.core.role !== 'follower' || this.core.leader !== null) return;
    const { voters } = this.core.conf();
    if (voters.length === 1 && voters[0] === this.nodeName) this.core.startElection();
  }

  private checkLeadership(): void {
    // Closed: it stepped down for good; a batch still being processed must not announce leadership again.
    if (this.closed) return;
    const leading = this.core.role === 'leader' && this.leaderSince !== null && this.applied >= this.leaderSince.index;
    if (leading === this.announcedLeader) return;
    this.announcedLeader = leading;
    this.options.log?.(leading ? `raft: ${this.nodeName} leads term ${this.core.term}` : `raft: ${this.nodeName} no longer leads`,
      { event: 'leadership_changed', leading, term: this.core.term });
    for (const l of this.listeners) l(leading);
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    const e = new ClusterError('CT_CLUSTER_STORAGE', `the log cannot be written: ${err.message}`, { cause: err });
    this.rejectPending(e);
    for (const w of this.reads.values()) { w.cancelTimer(); w.reject(e); }
    this.reads.clear();
    // A server that cannot persist must not campaign or vote again, and whoever
    // follows its leadership (dispatcher, agent registry) must hear it ended.
    this.stopTicker();
    this.stepDownEverywhere();
    this.options.onFatal?.(err);
  }

  private stepDownEverywhere(): void {
    if (!this.announcedLeader) return;
    this.announcedLeader = false;
    this.options.log?.(`raft: ${this.nodeName} no longer leads`, { event: 'leadership_changed', leading: false, term: this.core.term });
    for (const l of this.listeners) l(false);
  }

  // ---------------------------------------------------------------- input

  /** A message from another server (the transport calls this). */
  receive(m: Message): void {
    if (this.closed || this.failed) return;
    // An answer to our own appends or heartbeats: the peer got them at the address we have for it.
    if (m.type === 'appResp' || m.type === 'heartbeatResp') this.answeredAt.set(m.from, this.clock.now());
    this.core.step(m);
    this.schedule();
  }

  /**
   * True if `id` answered this server's appends or heartbeats within the last
   * `ticks` ticks: it is reachable at the address this server has for it.
   */
  answeredRecently(id: string, ticks = 30): boolean {
    const at = this.answeredAt.get(id);
    return at !== undefined && this.clock.now() - at < ticks * (this.options.tickMs ?? 100);
  }

  reportUnreachable(peer: string): void {
    this.core.reportUnreachable(peer);
  }

  reportSnapshot(peer: string, ok: boolean): void {
    this.core.reportSnapshot(peer, ok);
    this.schedule();
  }

  private usable(): ClusterError | null {
    if (this.closed) return new ClusterError('CT_CLUSTER_CLOSED', 'the server is shutting down');
    if (this.failed) return new ClusterError('CT_CLUSTER_STORAGE', `the log cannot be written: ${this.failed.message}`, { cause: this.failed });
    return null;
  }

  propose(data: Uint8Array): Promise<R> {
    const bad = this.usable();
    if (bad) return Promise.reject(bad);
    if (!this.announcedLeader) return Promise.reject(this.notLeader());
    const max = this.options.maxEntryBytes ?? maxEntryBytes;
    if (data.length > max) {
      return Promise.reject(new ClusterError('CT_CLUSTER_ENTRY_TOO_LARGE', `this change takes ${data.length} bytes; a log entry may take at most ${max} (make it smaller, e.g. restore fewer jobs at once)`));
    }
    const at = this.core.propose(data);
    if (at === null) return Promise.reject(this.notLeader());
    this.schedule();
    return new Promise<R>((resolve, reject) => this.waiting.set(at.index, { term: at.term, resolve, reject }));
  }

  private notLeader(): ClusterError {
    const leader = this.core.leader;
    return new ClusterError('CT_CLUSTER_NOT_LEADER', leader && leader !== this.nodeName ? `this server is not the leader; the leader is ${leader}` : 'no leader: the cluster cannot accept writes right now');
  }

  /** Resolves once this server's state is at least as new as any write acknowledged before the call (ReadIndex). */
  readBarrier(): Promise<void> {
    const bad = this.usable();
    if (bad) return Promise.reject(bad);
    const id = `${this.nodeName}/${++this.nextReadId}`;
    if (!this.core.readIndex(id)) return Promise.reject(this.notLeader());
    this.schedule();
    return new Promise<void>((resolve, reject) => {
      const cancelTimer = this.clock.after(readTimeoutMs, () => {
        this.reads.delete(id);
        reject(new ClusterError('CT_CLUSTER_NOT_LEADER', `no quorum confirmed a read within ${readTimeoutMs} ms`));
      });
      this.reads.set(id, { index: null, resolve, reject, cancelTimer });
    });
  }

  private settleReads(): void {
    for (const [id, w] of this.reads) {
      if (w.index !== null && this.applied >= w.index) {
        this.reads.delete(id);
        w.cancelTimer();
        w.resolve();
      }
    }
  }

  /** Membership change through the log; resolves with the new membership once committed. */
  changeMembership(cc: { type: ConfChange['type']; node: string; address?: MemberAddress }): Promise<ConfState> {
    const bad = this.usable();
    if (bad) return Promise.reject(bad);
    if (!this.announcedLeader) return Promise.reject(this.notLeader());
    const address = cc.address ?? this.addresses.get(cc.node) ?? { rpc: '', http: '' };
    const at = this.core.proposeConfChange({ type: cc.type, node: cc.node, address: encodeMemberAddress(address) });
    if (at === null) return Promise.reject(new ClusterError('CT_CLUSTER_NOT_LEADER', 'another membership change is in progress (or this server is not the leader); try again'));
    this.schedule();
    return new Promise<ConfState>((resolve, reject) => this.confWaiting.set(at.index, { term: at.term, resolve, reject }));
  }

  transferLeadership(to: string): boolean {
    const ok = this.core.transferLeadership(to);
    this.schedule();
    return ok;
  }

  /** How far each member's log matches ours (leader only). */
  replication(): ReadonlyMap<string, number> {
    return this.core.replicationStatus();
  }

  lastIndex(): number {
    return this.core.lastIndex();
  }

  commitIndex(): number {
    return this.core.commitIndex;
  }

  appliedIndex(): number {
    return this.applied;
  }

  term(): number {
    return this.core.term;
  }

  addressOf(id: string): MemberAddress | null {
    return this.addresses.get(id) ?? null;
  }

  // ---------------------------------------------------------------- ClusterNode

  isLeader(): boolean {
    return this.announcedLeader && !this.closed && !this.failed;
  }

  leaderName(): string | null {
    return this.core.leader;
  }

  members(): Member[] {
    const conf = this.core.conf();
    const leader = this.core.leader;
    const matches = this.core.replicationStatus();
    return [...conf.voters, ...conf.learners].map((id) => ({
      name: id,
      address: this.addresses.get(id)?.rpc ?? '',
      role: id === leader ? 'leader' as const : conf.learners.includes(id) ? 'learner' as const : 'follower' as const,
      voter: conf.voters.includes(id),
      status: matches.size === 0 || id === this.nodeName || (matches.get(id) ?? 0) > 0 ? 'alive' as const : 'failed' as const,
    }));
  }

  onLeadershipChange(listener: (leader: boolean) => void): () => void {
    this.listeners.add(listener);
    if (this.announcedLeader) queueMicrotask(() => listener(true));
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.stopTicker();
    this.closed = true;
    const err = new ClusterError('CT_CLUSTER_CLOSED', 'the server is shutting down');
    this.rejectPending(err);
    for (const w of this.reads.values()) { w.cancelTimer(); w.reject(err); }
    this.reads.clear();
    this.stepDownEverywhere();
    while (this.processing) await new Promise((r) => setImmediate(r));
    await this.log.close();
  }
}

/** Snapshot data: the member addresses (which the Raft conf does not carry), then the state machine's snapshot. */
function joinSnapshot(addresses: ReadonlyMap<string, MemberAddress>, state: Uint8Array): Uint8Array {
  const head = Buffer.from(JSON.stringify(Object.fromEntries(addresses)));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(head.length, 0);
  return Buffer.concat([len, head, state]);
}

function splitSnapshot(data: Uint8Array): { members: Map<string, MemberAddress>; state: Uint8Array } {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const len = buf.readUInt32LE(0);
  const members = new Map(Object.entries(JSON.parse(buf.subarray(4, 4 + len).toString()) as Record<string, MemberAddress>));
  return { members, state: buf.subarray(4 + len) };
}
