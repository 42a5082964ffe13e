// One simulated server: the real Raft core, the real state machine and the
// real dispatcher (the planner, the fire bookkeeping, the execution runner),
// driven as the real node driver drives them (persist, then send, then apply),
// over an in-memory "disk" that a crash can tear: a crash in the middle of a
// write keeps only a prefix of what was being written, and nothing of that
// Ready is sent or applied. The dispatcher runs on the simulation's clock,
// skewed per server, through its injected timers; its executions finish at
// once with success.

import { RaftCore, decodeConfChange } from '../../server/raft/raft-core.js';
import { EntryType, type Entry, type HardState, type RaftConfig, type Ready, type RestoredState, type Snapshot } from '../../server/raft/types.js';
import { CommandType, decodeCommand, encodeCommand, type Command } from '../../server/state/commands.js';
import { StateMachine, type ApplyResult } from '../../server/state/state-machine.js';
import { Dispatcher } from '../../server/dispatch/dispatcher.js';
import type { ExecutorHost } from '../../server/dispatch/executor-host.js';
import type { Timers } from '../../server/dispatch/timer-heap.js';
import { prng, type Prng } from './prng.js';
import { readValue, type History, type PendingOp } from './sim-history.js';
import type { LogView, SafetyChecks } from './sim-invariants.js';

export interface Disk {
  hardState: HardState;
  snapshot: Snapshot | null;
  /** Entries after the snapshot, contiguous. */
  entries: Entry[];
}

export interface ServerEnv {
  readonly random: Prng;
  readonly checks: SafetyChecks;
  readonly history: History;
  readonly send: (messages: Ready['messages']) => void;
  /** The simulation's time in ms (every server's clock is this plus its skew). */
  readonly nowMs: () => number;
  /** Timers on the simulation's clock. */
  readonly timers: Timers;
  readonly config: Omit<RaftConfig, 'id' | 'random'>;
  /** Probability that a crash happens in the middle of persisting a Ready. */
  tornWrite: number;
  /** Compact the log once this many entries are applied past the snapshot. */
  readonly compactEvery: number;
  /** Executions kept per job (the state machine's history limit): small, so snapshots stay cheap and trimming is exercised. */
  readonly historyLimit: number;
  /** Fault injection for the checker's own tests: fire before this leader's term has applied an entry. */
  readonly unsafeEarlyFiring?: boolean;
  /** Fault injection for the checker's own tests: answer reads from the local copy, without ReadIndex. */
  readonly unsafeStaleReads?: boolean;
}

interface PendingWrite {
  readonly op: PendingOp | null;
  readonly term: number;
  /** A dispatcher's submit waiting for its entry. */
  readonly settle?: { resolve(r: ApplyResult): void; reject(e: Error): void };
}

/** Executions finish at once, with success: the simulation checks fires, not executors. */
const instantHost: ExecutorHost = {
  execute: () => Promise.resolve({ success: true, exitCode: 0, error: '' }),
  executors: () => ['shell'],
};

export class SimServer {
  core: RaftCore | null = null;
  sm: StateMachine;
  applied = 0;
  /** The term in which this server, leading, has applied an entry of its own term (it may fire). */
  private readyTerm = 0;
  private readonly writes = new Map<number, PendingWrite>();
  private readonly reads = new Map<string, { op: PendingOp; index: number | null }>();
  dispatcher: Dispatcher | null = null;
  /** Whether the dispatcher was told to lead. */
  private leading = false;
  private readSeq = 0;
  crashes = 0;
  /** Set by a torn write: the cluster takes the server down. */
  crashedMidWrite = false;

  constructor(readonly id: string, readonly disk: Disk, private readonly env: ServerEnv, readonly skewMs = 0) {
    this.sm = new StateMachine({ historyLimit: env.historyLimit, versionLimit: 3 });
  }

  /** This server's clock: the simulation's, skewed. */
  nowMs(): number {
    return this.env.nowMs() + this.skewMs;
  }

  get up(): boolean {
    return this.core !== null;
  }

  /** Start (or restart) from what is on disk. */
  start(seed: number, restored?: RestoredState): void {
    const { disk } = this;
    const core = new RaftCore({ ...this.env.config, id: this.id, random: prng(seed).next }, restored ?? {
      hardState: disk.hardState, snapshot: disk.snapshot, entries: disk.entries,
      conf: disk.snapshot?.meta.conf ?? { voters: [], learners: [] }, applied: disk.snapshot?.meta.index ?? 0,
    });
    this.sm = new StateMachine({ historyLimit: this.env.historyLimit, versionLimit: 3 });
    if (disk.snapshot) this.sm.restore(disk.snapshot.data);
    this.leading = false;
    this.dispatcher = new Dispatcher({
      nodeName: this.id, state: this.sm, host: instantHost, now: () => this.nowMs(), outputLimit: 1000, timers: this.env.timers,
      log: { submit: (command) => this.submit(command) },
      // A commit refused by a step-down or a crash is the dispatcher's to handle (it plans again); nothing to report.
      onError: () => {},
    });
    this.applied = disk.snapshot?.meta.index ?? 0;
    this.readyTerm = 0;
    this.core = core;
  }

  /** Stop: everything in memory is gone; clients waiting on it will time out. */
  crash(): void {
    this.core = null;
    this.dispatcher?.stopLeading();
    this.dispatcher = null;
    this.leading = false;
    for (const w of this.writes.values()) w.settle?.reject(new Error('crashed'));
    this.writes.clear();
    this.reads.clear();
    this.crashes++;
  }

  get isLeader(): boolean {
    return this.core?.role === 'leader';
  }

  // ---------------------------------------------------------------- the driver

  /** Run the Ready loop until the core has nothing more to do. */
  process(): void {
    while (this.core?.hasReady()) {
      const core = this.core;
      const rd = core.ready();
      if (!this.persist(rd)) {
        this.crashedMidWrite = true;
        this.crash();
        return;
      }
      this.env.send(rd.messages);
      if (rd.snapshot) this.restore(rd.snapshot);
      for (const e of rd.committed) this.apply(core, e);
      for (const rs of rd.readStates) {
        const r = this.reads.get(rs.requestId);
        if (r) r.index = rs.index;
      }
      core.advance(rd);
      this.lead(core);
      if (core.role === 'leader') this.env.checks.leader(this.id, core.term, this.logView());
      this.settleReads();
      this.maybeCompact(core);
    }
  }

  /** Persist in the driver's order; a torn write keeps a prefix and reports false. */
  private persist(rd: Ready): boolean {
    const steps: (() => void)[] = [];
    const { disk } = this;
    if (rd.snapshot) {
      const snap = rd.snapshot;
      steps.push(() => {
        disk.snapshot = snap;
        disk.entries = disk.entries.filter((e) => e.index > snap.meta.index);
      });
    }
    for (const e of rd.entries) {
      steps.push(() => {
        disk.entries = disk.entries.filter((x) => x.index < e.index);
        const last = disk.entries.at(-1)?.index ?? disk.snapshot?.meta.index ?? 0;
        if (e.index !== last + 1) throw new Error(`driver bug: entry ${e.index} after ${last}`);
        disk.entries.push(e);
        this.env.checks.persisted(this.id, [e], this.logView());
      });
    }
    // Term and vote must be durable before anything is sent; the commit index rides along.
    const hs = rd.hardState;
    if (hs && (hs.term !== disk.hardState.term || hs.vote !== disk.hardState.vote)) steps.push(() => { disk.hardState = hs; });
    const torn = steps.length > 0 && this.env.random.chance(this.env.tornWrite) ? this.env.random.int(steps.length) : -1;
    for (const [i, step] of steps.entries()) {
      if (i === torn) return false;
      step();
    }
    return true;
  }

  private restore(snap: Snapshot): void {
    this.sm.restore(snap.data);
    this.applied = snap.meta.index;
    // Whatever we proposed up to here is settled, but we cannot tell how: the clients time out.
    for (const [index, w] of this.writes) {
      if (index > snap.meta.index) continue;
      w.settle?.reject(new Error('settled by a snapshot: outcome unknown'));
      this.writes.delete(index);
    }
  }

  private apply(core: RaftCore, e: Entry): void {
    if (e.index !== this.applied + 1) throw new Error(`${this.id} applied ${e.index} after ${this.applied}`);
    this.env.checks.applied(this.id, e);
    this.applied = e.index;
    let applied: ApplyResult | null = null;
    if (e.type === EntryType.ConfChange) {
      core.applyConfChange(decodeConfChange(e.data));
    } else if (e.data.length > 0) {
      const command = decodeCommand(e.data);
      if (command.type === CommandType.RecordFires) this.env.checks.settles(this.id, e.index, command, (name: string) => this.sm.job(name));
      if (command.type === CommandType.DeleteJob) this.env.checks.jobDeleted(command.name, e.index);
      const result = this.sm.apply(command, e.index);
      if (result.ok) {
        for (const x of result.executions) if (x.trigger === 'schedule') this.env.checks.fired(this.id, e.index, x.jobName, x.scheduledAtMs);
        for (const x of result.executions) if (x.runId !== undefined && x.attempt === 1) this.env.checks.taskStarted(this.id, e.index, x.runId, x.jobName, x.id);
      }
      applied = result;
    }
    if (core.role === 'leader' && e.term === core.term) this.readyTerm = core.term;
    const w = this.writes.get(e.index);
    if (w) {
      this.writes.delete(e.index);
      // A dispatcher's submit settles as the real node settles it: with apply()'s result, or refused.
      if (w.settle) {
        if (w.term === e.term && applied !== null) w.settle.resolve(applied);
        else w.settle.reject(new Error('another entry took its index'));
      }
      if (w.op) {
        if (w.term === e.term) this.env.history.complete(w.op, {}); // a write answers nothing but that it happened
        else this.env.history.fail(w.op); // another entry took its index: ours can never commit
      }
    }
  }

  private settleReads(): void {
    for (const [id, r] of this.reads) {
      if (r.index === null || r.index > this.applied) continue;
      this.reads.delete(id);
      if (r.op.input.kind === 'get') this.env.history.complete(r.op, { value: readValue(this.sm, r.op.input.key) });
    }
  }

  private maybeCompact(core: RaftCore): void {
    const snapIndex = this.disk.snapshot?.meta.index ?? 0;
    if (this.applied - snapIndex < this.env.compactEvery) return;
    // The core's log must still hold the applied entry (it always does after apply).
    const snap = core.compact(this.applied, this.sm.snapshot());
    if (!snap) return;
    this.disk.snapshot = snap;
    this.disk.entries = this.disk.entries.filter((e) => e.index > snap.meta.index);
  }

  logView(): LogView {
    const { disk } = this;
    const snapshotIndex = disk.snapshot?.meta.index ?? 0;
    const first = disk.entries[0]?.index ?? snapshotIndex + 1;
    return {
      snapshotIndex,
      snapshotTerm: disk.snapshot?.meta.term ?? 0,
      lastIndex: disk.entries.at(-1)?.index ?? snapshotIndex,
      termAt: (index) => {
        if (index === 0) return 0;
        if (index === snapshotIndex) return disk.snapshot?.meta.term;
        return disk.entries[index - first]?.term;
      },
    };
  }

  // ---------------------------------------------------------------- clients and the scheduler

  /** A client's write arrives here. Returns the leader to redirect to, or null when handled. */
  write(op: PendingOp, command: Command): string | null {
    const core = this.core;
    if (!core) return null;
    if (core.role !== 'leader') {
      if (core.leader !== null && core.leader !== this.id) return core.leader;
      this.env.history.fail(op); // no leader known: refused, nothing proposed
      return null;
    }
    const at = core.propose(encodeCommand(command));
    if (at === null) this.env.history.fail(op);
    else this.writes.set(at.index, { op, term: at.term });
    return null;
  }

  /** A write of the simulation's own (no client waits for it): proposed if this server leads. */
  propose(command: Command): void {
    const core = this.core;
    if (core?.role === 'leader') core.propose(encodeCommand(command));
  }

  /** A client's read: linearizable through ReadIndex. */
  read(op: PendingOp): void {
    const core = this.core;
    if (!core) return;
    if (this.env.unsafeStaleReads && op.input.kind === 'get') {
      this.env.history.complete(op, { value: readValue(this.sm, op.input.key) });
      return;
    }
    const requestId = `${this.id}-${++this.readSeq}`;
    if (!core.readIndex(requestId)) {
      this.env.history.fail(op);
      return;
    }
    this.reads.set(requestId, { op, index: null });
  }

  /**
   * Tell the dispatcher when this server may fire, as the real node driver
   * does: once, leading, it has applied an entry of its own term (so it has
   * seen every earlier fire), and no longer from a step-down on.
   */
  private lead(core: RaftCore): void {
    const leading = core.role === 'leader' && (this.readyTerm === core.term || this.env.unsafeEarlyFiring === true);
    if (leading === this.leading || !this.dispatcher) return;
    this.leading = leading;
    if (leading) {
      this.dispatcher.startLeading();
      return;
    }
    this.dispatcher.stopLeading();
    // What it was committing may still commit under the next leader; it will never hear.
    for (const [index, w] of this.writes) {
      if (!w.settle) continue;
      w.settle.reject(new Error('stopped leading'));
      this.writes.delete(index);
    }
  }

  /** The dispatcher's CommandLog: propose, and settle when the entry applies. */
  private submit(command: Command): Promise<ApplyResult> {
    const core = this.core;
    if (!core || core.role !== 'leader') return Promise.reject(new Error('not the leader'));
    const at = core.propose(encodeCommand(command));
    if (at === null) return Promise.reject(new Error('proposal refused'));
    return new Promise((resolve, reject) => this.writes.set(at.index, { op: null, term: at.term, settle: { resolve, reject } }));
  }

  /** Forget client operations that were given up. */
  dropSettled(): void {
    for (const [i, w] of this.writes) if (w.op?.settled) this.writes.delete(i);
    for (const [id, r] of this.reads) if (r.op.settled) this.reads.delete(id);
  }
}
