// The command log on an existing etcd instead of the built-in Raft: the same
// ClusterNode the API, dispatcher and agents use, so nothing above knows
// which one runs.
//
// Layout under the prefix (default /clocktower):
//   <p>/leader          the leader's name, on its lease (created in a txn only if absent)
//   <p>/members/<name>  each server's addresses, on its lease
//   <p>/log/<seq>       one batch of commands, 16-digit sequence numbers; the
//                       leader writes seq N+1 only after N, in a txn that also
//                       requires its own leader key (same create revision) and
//                       an absent log key, so a deposed or paused leader's
//                       write is refused by etcd itself
//   <p>/snapshot        the state machine at some seq, written with the same
//                       fence; log keys before it are deleted in that txn and
//                       etcd's history is compacted after it
//
// Every server (the leader too) applies batches in seq order by reading them
// back when its watch on the prefix reports a change (with a slow poll as a
// backstop), so the order applied is the order etcd committed.
//
// Sizes. etcd refuses a request larger than its --max-request-bytes (1.5 MiB
// by default; past that plus 512 KiB its gRPC server refuses the message
// itself), so a batch holds at most `maxBatchBytes` of commands (one command
// larger than that goes alone). Each batch is one put, so a txn has one or
// two ops, far from etcd's --max-txn-ops (128). When etcd still refuses a
// batch as too large (it was started with a smaller limit), nothing of it
// was committed: the batch is split and written again, and the smaller size
// is kept; a single command that etcd refuses is answered with
// CT_CLUSTER_ENTRY_TOO_LARGE. Such a refusal is an answer, not an outage:
// it is neither retried nor counted against the etcd member.

import { circuitBreaker, ConsecutiveBreaker, handleWhen, isBrokenCircuitError, noop } from 'cockatiel';
import { Etcd3, GRPCDeadlineExceededError, isRecoverableError, type ICompare, type IOptions, type IRequestOp, type Lease, type Watcher } from 'etcd3';
import type { ClusterNode, Member, ReplicatedStateMachine } from '../cluster/cluster-node.js';
import { ClusterError, snapshotInSlices } from '../cluster/cluster-node.js';
import type { MemberAddress } from '../cluster/member-address.js';

export interface EtcdSettings {
  readonly endpoints: readonly string[];
  /** Key prefix, e.g. /clocktower; several clusters may share one etcd under different prefixes. */
  readonly prefix: string;
  /** Seconds: a leader that stops renewing its lease this long loses leadership. */
  readonly leaseTtlSec: number;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly username?: string;
  readonly password?: string;
}

export interface EtcdNodeOptions<R> {
  readonly nodeName: string;
  readonly address: MemberAddress;
  readonly etcd: EtcdSettings;
  readonly stateMachine: ReplicatedStateMachine<R>;
  /** Write a snapshot (and delete the log before it) after this many commands. */
  readonly snapshotEvery: number;
  readonly log: (line: string) => void;
  /** Bytes of commands per log batch (default 1 MiB, under etcd's default request limit of 1.5 MiB). */
  readonly maxBatchBytes?: number;
}

interface Waiter<R> {
  resolve(result: R): void;
  reject(err: Error): void;
}

interface Pending<R> extends Waiter<R> {
  readonly data: Uint8Array;
}

const maxBatch = 512;
/** Bytes of commands per batch unless the options say otherwise. */
export const defaultMaxBatchBytes = 1024 * 1024;
/** Batches read per range request when catching up (each at most about maxBatchBytes, or one command). */
const readBatches = 64;
/** The deadline of one try of an etcd call (see call()). */
const attemptMs = 1200;
const seqWidth = 16;

export class EtcdNode<R> implements ClusterNode<R> {
  readonly nodeName: string;
  private readonly client: Etcd3;
  private readonly p: string;
  private readonly sm: ReplicatedStateMachine<R>;
  private readonly log: (line: string) => void;
  private lease: Lease | null = null;
  private leaseId = '';
  private watcher: Watcher | null = null;
  private poll: NodeJS.Timeout | null = null;
  private closed = false;

  // What has been applied here.
  private appliedSeq = 0;
  private appliedIndex = 0;
  /** The index the newest snapshot in etcd covers, as far as this server knows. */
  private snapshotIndex = 0;
  private readonly appliedWaiters: { seq: number; resolve: () => void }[] = [];

  // Leadership.
  private leader: string | null = null;
  private leaderRev = '';
  private leading = false;
  private readonly listeners = new Set<(leader: boolean) => void>();
  private membersCache = new Map<string, MemberAddress>();

  // The leader's write path: one batch in flight at a time.
  private queue: Pending<R>[] = [];
  private inFlight = false;
  private writtenSeq = 0;
  private writtenIndex = 0;
  private readonly waiting = new Map<number, Waiter<R>[]>();
  /** The byte budget of one batch: the option's, lowered when etcd refused a batch as too large. */
  private batchBytes: number;
  private snapshotting = false;
  /** After a snapshot etcd refused as too large, the index before which none is tried again. */
  private snapshotNotBefore = 0;

  private syncing: Promise<void> | null = null;
  private syncAgain = false;
  /** Why the last read of the log failed ('' after one that did not), logged once per cause. */
  private syncError = '';

  private constructor(private readonly opts: EtcdNodeOptions<R>) {
    this.nodeName = opts.nodeName;
    this.p = opts.etcd.prefix.replace(/\/+$/, '');
    this.sm = opts.stateMachine;
    this.log = opts.log;
    this.batchBytes = opts.maxBatchBytes ?? defaultMaxBatchBytes;
    const options: IOptions = {
      hosts: [...opts.etcd.endpoints],
      dialTimeout: 3000,
      // A member that fails three calls in a row is left alone for a second
      // (etcd3's default is five, longer than a leader's whole write budget);
      // call() below does the retrying, so the client's own global retry is off.
      // etcd refusing a request as too large says nothing about the member.
      faultHandling: {
        host: () => circuitBreaker(handleWhen((err) => isRecoverableError(err) && !isTooLarge(err)), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
        global: noop,
      },
      // A range of batches or a watch response may hold more than gRPC's
      // default 4 MiB; each value in it is bounded by etcd's request limit.
      grpcOptions: { 'grpc.max_receive_message_length': -1 },
      ...(opts.etcd.ca ? { credentials: { rootCertificate: opts.etcd.ca, ...(opts.etcd.key ? { privateKey: opts.etcd.key } : {}), ...(opts.etcd.cert ? { certChain: opts.etcd.cert } : {}) } } : {}),
      ...(opts.etcd.username !== undefined ? { auth: { username: opts.etcd.username, password: opts.etcd.password ?? '' } } : {}),
    };
    this.client = new Etcd3(options);
  }

  /** Connect, restore what etcd holds, register this server and start campaigning. */
  static async open<R>(opts: EtcdNodeOptions<R>): Promise<EtcdNode<R>> {
    const node = new EtcdNode(opts);
    try {
      await node.start();
    } catch (err) {
      await node.close();
      throw new ClusterError('CT_CLUSTER_STORAGE', `cannot use etcd at ${opts.etcd.endpoints.join(',')}: ${message(err)}`, { cause: err });
    }
    return node;
  }

  private key(...parts: string[]): Buffer {
    return Buffer.from([this.p, ...parts].join('/'));
  }

  private logKey(seq: number): Buffer {
    return this.key('log', String(seq).padStart(seqWidth, '0'));
  }

  private async start(): Promise<void> {
    await this.sync();
    await this.newLease();
    this.watcher = await this.client.watch().prefix(`${this.p}/`).create();
    this.watcher.on('data', () => this.kick());
    this.watcher.on('connected', () => this.kick());
    this.watcher.on('error', () => {});
    this.poll = setInterval(() => this.kick(), 1000);
    await this.refresh();
  }

  /**
   * One etcd call with a short deadline per try, tried again on another
   * endpoint until the budget is spent: the client's first call to a member
   * that just died waits out its whole deadline instead of failing over, so
   * one long deadline would stall a leader for its length.
   */
  private async call<T>(fn: (options: { deadline: number }) => Promise<T>, budgetMs = 5000): Promise<T> {
    const until = Date.now() + budgetMs;
    for (;;) {
      const left = until - Date.now();
      try {
        return await fn({ deadline: Date.now() + Math.max(100, Math.min(attemptMs, left)) });
      } catch (err) {
        const broken = isBrokenCircuitError(err);
        const retry = broken || err instanceof GRPCDeadlineExceededError || (err instanceof Error && isRecoverableError(err) && !isTooLarge(err));
        if (!retry || this.closed || until - Date.now() <= 0) throw err;
        // Every member's circuit is open (etcd was electing a leader): wait for the first to half-open.
        if (broken) await new Promise((r) => setTimeout(r, Math.min(100, Math.max(0, until - Date.now()))));
      }
    }
  }

  private leasing: Promise<void> | null = null;

  /** A lease for this server's member and leader keys; a new one when it is lost (retried by the poll while etcd is away). */
  private newLease(): Promise<void> {
    this.leasing ??= (async () => {
      const lease = this.client.lease(this.opts.etcd.leaseTtlSec);
      lease.on('lost', () => {
        if (this.lease !== lease || this.closed) return;
        this.log('etcd: this server\'s lease was lost');
        this.stepDown('the lease was lost');
        this.lease = null;
        this.leaseId = '';
        void this.newLease().catch((err: unknown) => this.log(`etcd: cannot get a new lease: ${message(err)}`));
      });
      try {
        const id = await lease.grant();
        await this.call((o) => this.client.kv.put({ key: this.key('members', this.nodeName), value: Buffer.from(JSON.stringify(this.opts.address)), lease: id }, o));
        this.lease = lease;
        this.leaseId = id;
      } catch (err) {
        lease.release();
        throw err;
      }
    })().finally(() => { this.leasing = null; });
    return this.leasing;
  }

  /** Something changed under the prefix (or the poll ticked): catch up, and look at the leader and members. */
  private kick(): void {
    if (this.closed) return;
    void this.sync().catch(() => {});
    void this.refresh().catch(() => {});
  }

  private async refresh(): Promise<void> {
    if (this.closed) return;
    if (!this.lease) await this.newLease();
    const [leaderRes, membersRes] = await Promise.all([
      this.call((o) => this.client.kv.range({ key: this.key('leader') }, o)),
      this.call((o) => this.client.kv.range({ key: this.key('members', ''), range_end: prefixEnd(this.key('members', '')) }, o)),
    ]);
    const members = new Map<string, MemberAddress>();
    const prefixLen = this.key('members', '').length;
    for (const kv of membersRes.kvs) {
      try {
        members.set(kv.key.subarray(prefixLen).toString(), JSON.parse(kv.value.toString()) as MemberAddress);
      } catch { /* not ours */ }
    }
    this.membersCache = members;
    const kv = leaderRes.kvs[0];
    if (!kv) {
      this.leader = null;
      if (this.leading) this.stepDown('the leader key is gone');
      await this.campaign();
      return;
    }
    this.leader = kv.value.toString();
    if (this.leading && kv.create_revision !== this.leaderRev) this.stepDown('another server holds the leader key');
    // Our own key on our live lease, but not leading (a write failed while etcd was away): lead again.
    if (!this.leading && kv.lease === this.leaseId) await this.campaign();
  }

  private campaigning = false;

  private async campaign(): Promise<void> {
    if (this.campaigning || this.closed || !this.leaseId) return;
    this.campaigning = true;
    try {
      const leaderKey = this.key('leader');
      // Retried, a txn that had landed fails its compare and finds our own key: handled below.
      const res = await this.call((o) => this.client.kv.txn({
        compare: [{ key: leaderKey, target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [{ request_put: { key: leaderKey, value: Buffer.from(this.nodeName), lease: this.leaseId } }],
        failure: [{ request_range: { key: leaderKey } }],
      }, o));
      let rev = res.header.revision;
      if (!res.succeeded) {
        const held = res.responses[0]?.response_range.kvs[0];
        if (!held || held.lease !== this.leaseId) return;
        rev = held.create_revision;
      }
      this.leaderRev = rev;
      this.leader = this.nodeName;
      // Apply everything before leading: the next seq follows the last one.
      await this.sync();
      await this.barrierUnlocked();
      if (this.leader !== this.nodeName || this.leaderRev !== rev || this.closed) return;
      this.writtenSeq = this.appliedSeq;
      this.writtenIndex = this.appliedIndex;
      this.leading = true;
      this.log(`etcd: ${this.nodeName} leads`);
      for (const l of [...this.listeners]) l(true);
      this.flush();
    } catch (err) {
      this.log(`etcd: campaign failed: ${message(err)}`);
    } finally {
      this.campaigning = false;
    }
  }

  private stepDown(why: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.leaderRev = '';
    this.log(`etcd: ${this.nodeName} stops leading: ${why}`);
    this.failAll(new ClusterError('CT_CLUSTER_NOT_LEADER', `this server stopped leading (${why})`));
    for (const l of [...this.listeners]) l(false);
  }

  private failAll(err: Error): void {
    for (const p of this.queue.splice(0)) p.reject(err);
    for (const ws of this.waiting.values()) for (const w of ws) w.reject(err);
    this.waiting.clear();
  }

  /** Read and apply every batch after the last applied one, in seq order; one pass at a time. */
  private sync(): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    const run = async () => {
      try {
        do {
          this.syncAgain = false;
          await this.syncOnce();
        } while (this.syncAgain && !this.closed);
        this.syncError = '';
      } catch (err) {
        // Callers mostly go on (the watch or the poll tries again): say why this server is not catching up, once per cause.
        if (message(err) !== this.syncError && !this.closed) this.log(`etcd: cannot read the log: ${message(err)}`);
        this.syncError = message(err);
        throw err;
      } finally {
        this.syncing = null;
      }
    };
    this.syncing = run();
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    for (;;) {
      const from = this.logKey(this.appliedSeq + 1);
      const res = await this.call((o) => this.client.kv.range({
        key: from, range_end: prefixEnd(this.key('log', '')), limit: readBatches,
        sort_order: 'Ascend', sort_target: 'Key',
      }, o));
      let progressed = false;
      for (const kv of res.kvs) {
        const seq = Number(kv.key.subarray(this.key('log', '').length).toString());
        if (seq <= this.appliedSeq) continue;
        if (seq !== this.appliedSeq + 1) {
          // The log before it was folded into a snapshot.
          await this.restoreSnapshot();
          if (seq <= this.appliedSeq) continue;
          if (seq !== this.appliedSeq + 1) throw new ClusterError('CT_CLUSTER_STORAGE', `etcd log has a gap: at ${this.appliedSeq}, next is ${seq}`);
        }
        this.applyBatch(seq, kv.value);
        progressed = true;
      }
      if (!res.more || !progressed) break;
    }
  }

  private async restoreSnapshot(): Promise<void> {
    const res = await this.call((o) => this.client.kv.range({ key: this.key('snapshot') }, o));
    const kv = res.kvs[0];
    if (!kv) return;
    const { seq, index, data } = decodeSnapshot(kv.value);
    if (seq <= this.appliedSeq) return;
    this.sm.restore(data);
    this.appliedSeq = seq;
    this.appliedIndex = index;
    this.snapshotIndex = Math.max(this.snapshotIndex, index);
    this.log(`etcd: restored the snapshot at ${seq} (index ${index})`);
    this.wakeApplied();
  }

  private applyBatch(seq: number, value: Buffer): void {
    const batch = decodeBatch(value);
    const waiters = this.waiting.get(seq);
    this.waiting.delete(seq);
    batch.commands.forEach((data, i) => {
      const index = batch.first + i;
      let result: R | undefined;
      let error: Error | undefined;
      try {
        result = this.sm.apply(data, index, waiters?.[i] !== undefined);
      } catch (err) {
        error = err instanceof Error ? err : new Error(String(err));
      }
      const w = waiters?.[i];
      if (w) {
        if (error) w.reject(error);
        else w.resolve(result as R);
      }
    });
    this.appliedSeq = seq;
    this.appliedIndex = batch.first + batch.commands.length - 1;
    this.wakeApplied();
    this.maybeSnapshot();
  }

  /** The leader folds the log into a snapshot once it holds --snapshot-every commands past the last one. */
  private maybeSnapshot(): void {
    if (this.leading && !this.snapshotting && this.appliedIndex >= this.snapshotNotBefore && this.appliedIndex - this.snapshotIndex >= this.opts.snapshotEvery) void this.snapshot();
  }

  private wakeApplied(): void {
    for (let i = this.appliedWaiters.length - 1; i >= 0; i--) {
      const w = this.appliedWaiters[i];
      if (w && w.seq <= this.appliedSeq) {
        this.appliedWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  propose(data: Uint8Array): Promise<R> {
    if (this.closed) return Promise.reject(new ClusterError('CT_CLUSTER_CLOSED', 'the server is shutting down'));
    if (!this.leading) return Promise.reject(new ClusterError('CT_CLUSTER_NOT_LEADER', `not the leader (the leader is ${this.leader ?? 'not known'})`));
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ data, resolve, reject });
      this.flush();
    });
  }

  /** Write the queued commands as the next batch, fenced on this server's leadership. */
  private flush(): void {
    if (this.inFlight || !this.leading || this.queue.length === 0) return;
    const batch = this.queue.splice(0, batchCount(this.queue, this.batchBytes));
    const bytes = batchBytesOf(batch);
    const seq = this.writtenSeq + 1;
    const first = this.writtenIndex + 1;
    const leaderRev = this.leaderRev;
    this.inFlight = true;
    this.waiting.set(seq, batch);
    void this.fencedTxn(leaderRev, [{ key: this.logKey(seq), target: 'Create', result: 'Equal', create_revision: 0 }],
      [{ request_put: { key: this.logKey(seq), value: encodeBatch(first, batch.map((b) => b.data)) } }],
    ).then(async (ok) => {
      if (ok) {
        this.writtenSeq = seq;
        this.writtenIndex = first + batch.length - 1;
        void this.sync().catch(() => {});
        return;
      }
      if (await this.afterRefusedWrite(leaderRev)) {
        // The fence at work: the txn compared a leader key that etcd no longer holds.
        this.log(`etcd: refused a batch of ${batch.length} command(s) at ${seq}: this server no longer holds the leader key, nothing of it was committed`);
      }
      const left = this.waiting.get(seq);
      this.waiting.delete(seq);
      for (const w of left ?? []) w.reject(new ClusterError('CT_CLUSTER_NOT_LEADER', 'etcd refused the write'));
    }, (err: unknown) => {
      if (isTooLarge(err)) {
        // Refused before it was proposed: nothing of it was committed. Unless this
        // server stopped leading meanwhile (its callers were told), write it again.
        const left = this.waiting.get(seq);
        this.waiting.delete(seq);
        if (left && this.leading && this.leaderRev === leaderRev) this.tooLarge(batch, bytes, err);
        return;
      }
      // Perhaps written, perhaps not: tell the callers, and continue after the last batch etcd has.
      const e = new ClusterError('CT_CLUSTER_STORAGE', `etcd did not confirm the write: ${message(err)}`, { cause: err });
      this.waiting.delete(seq);
      for (const b of batch) b.reject(e);
      this.stepDown(`etcd did not answer: ${message(err)}`);
    }).finally(() => {
      this.inFlight = false;
      this.flush();
    });
  }

  /**
   * etcd refused a batch as larger than a request may be: split it and write
   * it again (keeping the smaller size for the batches after it), or, a
   * single command, answer it with the error.
   */
  private tooLarge(batch: Pending<R>[], bytes: number, err: unknown): void {
    const [only] = batch;
    if (batch.length === 1 && only) {
      this.log(`etcd: refused a command of ${only.data.length} bytes as larger than a request may be (etcd's --max-request-bytes): ${message(err)}`);
      only.reject(new ClusterError('CT_CLUSTER_ENTRY_TOO_LARGE',
        `this change takes ${only.data.length} bytes, more than etcd accepts in one request (its --max-request-bytes); make it smaller, e.g. restore fewer jobs at once`, { cause: err }));
      return;
    }
    this.batchBytes = Math.max(1, Math.floor(bytes / 2));
    this.log(`etcd: refused a batch of ${batch.length} commands (${bytes} bytes) as larger than a request may be (etcd's --max-request-bytes); writing it again in batches of at most ${this.batchBytes} bytes`);
    this.queue.unshift(...batch);
  }

  /**
   * etcd refused a batch: another server leads (step down), or the client
   * retried our own write that had landed (catch up and go on after it).
   */
  private async afterRefusedWrite(leaderRev: string): Promise<boolean> {
    const res = await this.call((o) => this.client.kv.range({ key: this.key('leader') }, o)).catch(() => null);
    if (res?.kvs[0]?.create_revision !== leaderRev || this.leaderRev !== leaderRev) {
      this.stepDown('etcd refused a write: this server no longer holds the leader key');
      return true;
    }
    await this.sync().catch(() => {});
    this.writtenSeq = this.appliedSeq;
    this.writtenIndex = this.appliedIndex;
    return false;
  }

  /** A txn that succeeds only while this server's leader key (at its creation revision) stands. */
  private async fencedTxn(leaderRev: string, compare: ICompare[], success: IRequestOp[]): Promise<boolean> {
    if (!leaderRev) return false;
    // Retried, a log write that had landed fails its compare (the key exists): afterRefusedWrite catches up.
    const res = await this.call((o) => this.client.kv.txn({
      compare: [{ key: this.key('leader'), target: 'Create', result: 'Equal', create_revision: leaderRev }, ...compare],
      success,
      failure: [],
    }, o));
    return res.succeeded;
  }

  private async snapshot(): Promise<void> {
    if (this.snapshotting) return;
    this.snapshotting = true;
    let stored = false;
    try {
      const seq = this.appliedSeq;
      const index = this.appliedIndex;
      // The state at seq, serialised a slice per turn of the event loop (applies go on meanwhile).
      const value = encodeSnapshot(seq, index, await snapshotInSlices(this.sm, (next) => setImmediate(next)));
      // Keep the log key at seq itself: a server behind sees the gap and loads the snapshot.
      const ok = await this.fencedTxn(this.leaderRev, [], [
        { request_put: { key: this.key('snapshot'), value } },
        { request_delete_range: { key: this.logKey(0), range_end: this.logKey(seq) } },
      ]);
      if (!ok) return;
      stored = true;
      this.snapshotIndex = Math.max(this.snapshotIndex, index);
      const rev = (await this.call((o) => this.client.kv.range({ key: this.key('snapshot'), keys_only: true }, o))).header.revision;
      const compacted = await this.call((o) => this.client.kv.compact({ revision: rev }, o)).then(() => null, (err: unknown) => message(err));
      this.log(compacted === null
        ? `etcd: snapshot at ${seq}, log before it deleted, history compacted at revision ${rev}`
        : `etcd: snapshot at ${seq}, log before it deleted; compacting etcd's history failed: ${compacted}`);
    } catch (err) {
      if (isTooLarge(err)) {
        // Serialising and sending it after every batch would only be refused again: wait another --snapshot-every.
        this.snapshotNotBefore = this.appliedIndex + this.opts.snapshotEvery;
        this.log(`etcd: snapshot failed: it is larger than etcd accepts in one request (raise etcd's --max-request-bytes); the log is not trimmed: ${message(err)}`);
      } else {
        this.log(`etcd: snapshot failed: ${message(err)}`);
      }
    } finally {
      this.snapshotting = false;
    }
    // Batches applied while this one was written count towards the next: without
    // this, a burst that ends during a snapshot would leave its tail unfolded.
    // (A failed one is tried again on the next batch, not in a loop.)
    if (stored) this.maybeSnapshot();
  }

  /** Linearizable reads: wait until everything etcd had committed when this was called is applied here. */
  async readBarrier(): Promise<void> {
    try {
      await this.barrierUnlocked();
    } catch (err) {
      if (err instanceof ClusterError) throw err;
      throw new ClusterError('CT_CLUSTER_STORAGE', `etcd cannot be read: ${message(err)}`, { cause: err });
    }
  }

  private async barrierUnlocked(): Promise<void> {
    const res = await this.call((o) => this.client.kv.range({
      key: this.logKey(0), range_end: prefixEnd(this.key('log', '')), limit: 1, keys_only: true,
      sort_order: 'Descend', sort_target: 'Key',
    }, o));
    const kv = res.kvs[0];
    if (!kv) return;
    const last = Number(kv.key.subarray(this.key('log', '').length).toString());
    if (last <= this.appliedSeq) return;
    const reached = new Promise<void>((resolve) => this.appliedWaiters.push({ seq: last, resolve }));
    await this.sync();
    await withTimeout(reached, 10_000, () => new ClusterError('CT_CLUSTER_STORAGE', `etcd log not applied up to ${last} in time`));
  }

  isLeader(): boolean {
    return this.leading;
  }

  leaderName(): string | null {
    return this.leading ? this.nodeName : this.leader;
  }

  addressOf(name: string): MemberAddress | null {
    if (name === this.nodeName) return this.opts.address;
    return this.membersCache.get(name) ?? null;
  }

  members(): Member[] {
    const names = new Set([this.nodeName, ...this.membersCache.keys()]);
    return [...names].sort().map((name) => ({
      name,
      address: this.addressOf(name)?.rpc ?? '',
      role: name === this.leaderName() ? 'leader' : 'follower',
      voter: true,
      status: 'alive',
    }));
  }

  onLeadershipChange(listener: (leader: boolean) => void): () => void {
    this.listeners.add(listener);
    if (this.leading) listener(true);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.stepDown('closing');
    this.closed = true;
    this.failAll(new ClusterError('CT_CLUSTER_CLOSED', 'the server is shutting down'));
    if (this.poll) clearInterval(this.poll);
    await this.watcher?.cancel().catch(() => {});
    // Revoking the lease frees the leader key at once for another server.
    await this.lease?.revoke().catch(() => {});
    this.client.close();
  }
}

function prefixEnd(key: Buffer): Buffer {
  const end = Buffer.from(key);
  for (let i = end.length - 1; i >= 0; i--) {
    const b = end[i] ?? 0;
    if (b < 0xff) {
      end[i] = b + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** The commands at the head of `queue` that make one batch: at most maxBatch, within `maxBytes` (always at least one). */
function batchCount(queue: readonly { readonly data: Uint8Array }[], maxBytes: number): number {
  let bytes = 8;
  let n = 0;
  for (const p of queue) {
    bytes += 4 + p.data.length;
    if (n >= maxBatch || (n > 0 && bytes > maxBytes)) break;
    n++;
  }
  return n;
}

/** The encoded size of a batch of these commands (see encodeBatch). */
function batchBytesOf(batch: readonly { readonly data: Uint8Array }[]): number {
  return batch.reduce((n, p) => n + 4 + p.data.length, 8);
}

/**
 * etcd (or its gRPC server, or this client's) refused a message as too
 * large: an answer about the request, not about etcd's health.
 */
export function isTooLarge(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return /etcdserver: request is too large|larger than max/i.test(err.message);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function withTimeout<T>(p: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(error()), ms); })]);
  } finally {
    clearTimeout(timer);
  }
}

// A batch: 8 bytes first index, then each command as 4-byte length + bytes.
export function encodeBatch(first: number, commands: readonly Uint8Array[]): Buffer {
  const size = 8 + commands.reduce((n, c) => n + 4 + c.length, 0);
  const out = Buffer.alloc(size);
  out.writeBigUInt64BE(BigInt(first), 0);
  let at = 8;
  for (const c of commands) {
    out.writeUInt32BE(c.length, at);
    out.set(c, at + 4);
    at += 4 + c.length;
  }
  return out;
}

export function decodeBatch(buf: Buffer): { first: number; commands: Uint8Array[] } {
  if (buf.length < 8) throw new ClusterError('CT_CLUSTER_STORAGE', 'a log batch in etcd is truncated');
  const first = Number(buf.readBigUInt64BE(0));
  const commands: Uint8Array[] = [];
  let at = 8;
  while (at < buf.length) {
    if (at + 4 > buf.length) throw new ClusterError('CT_CLUSTER_STORAGE', 'a log batch in etcd is truncated');
    const n = buf.readUInt32BE(at);
    if (at + 4 + n > buf.length) throw new ClusterError('CT_CLUSTER_STORAGE', 'a log batch in etcd is truncated');
    commands.push(buf.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return { first, commands };
}

function encodeSnapshot(seq: number, index: number, data: Uint8Array): Buffer {
  const out = Buffer.alloc(16 + data.length);
  out.writeBigUInt64BE(BigInt(seq), 0);
  out.writeBigUInt64BE(BigInt(index), 8);
  out.set(data, 16);
  return out;
}

function decodeSnapshot(buf: Buffer): { seq: number; index: number; data: Uint8Array } {
  if (buf.length < 16) throw new ClusterError('CT_CLUSTER_STORAGE', 'the snapshot in etcd is truncated');
  return { seq: Number(buf.readBigUInt64BE(0)), index: Number(buf.readBigUInt64BE(8)), data: buf.subarray(16) };
}
