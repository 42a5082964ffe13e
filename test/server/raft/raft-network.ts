// A tiny synchronous network of Raft cores for the core's unit tests: every
// server persists each Ready in memory, "sends" by queueing, and applies
// committed entries to a list. Delivery is explicit (stabilize), and links
// can be cut.

import { RaftCore, decodeConfChange } from '../../../server/raft/raft-core.js';
import { bootstrapState, joiningState } from '../../../server/raft/bootstrap.js';
import { EntryType, type Entry, type HardState, type Message, type RaftConfig, type ReadState, type Snapshot } from '../../../server/raft/types.js';

export interface TestServer {
  core: RaftCore;
  /** What is durable. */
  hardState: HardState;
  entries: Entry[];
  snapshot: Snapshot | null;
  /** Data of applied normal entries, in order (the state machine). */
  applied: string[];
  readStates: ReadState[];
}

const enc = new TextEncoder();
const dec = new TextDecoder();
export const data = (s: string): Uint8Array => enc.encode(s);

export class RaftNetwork {
  readonly servers = new Map<string, TestServer>();
  private queue: Message[] = [];
  private readonly cut = new Set<string>();
  /** Every message delivered, for assertions. */
  readonly delivered: Message[] = [];
  private seed = 1;

  constructor(ids: readonly string[], readonly options: Partial<RaftConfig> = {}) {
    for (const id of ids) this.add(id, ids);
  }

  private random = (): number => {
    // mulberry32: deterministic jitter for elections.
    let t = (this.seed += 0x6d2b79f5);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  private config(id: string): RaftConfig {
    return { id, electionTicks: 10, heartbeatTicks: 1, random: this.random, preVote: true, checkQuorum: true, ...this.options };
  }

  /** A new server; `voters` is the initial cluster (empty for one joining later). */
  add(id: string, voters: readonly string[]): TestServer {
    const start = voters.length > 0 ? bootstrapState(voters.map((v) => ({ id: v, address: `${v}:1` }))) : joiningState;
    const s: TestServer = {
      core: new RaftCore(this.config(id), start),
      hardState: start.hardState, entries: [...start.entries], snapshot: null, applied: [], readStates: [],
    };
    this.servers.set(id, s);
    this.stabilize();
    return s;
  }

  get(id: string): TestServer {
    const s = this.servers.get(id);
    if (s === undefined) throw new Error(`no server ${id}`);
    return s;
  }

  /** Crash and restart from what was durable. */
  restart(id: string): void {
    const s = this.get(id);
    const conf = s.snapshot?.meta.conf ?? { voters: [], learners: [] };
    s.core = new RaftCore(this.config(id), {
      hardState: s.hardState, snapshot: s.snapshot, entries: s.entries, conf, applied: s.snapshot?.meta.index ?? 0,
    });
    s.applied = s.snapshot ? JSON.parse(dec.decode(s.snapshot.data)) as string[] : [];
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
  }

  /** Drop everything between a and b (both ways). */
  cutLink(a: string, b: string): void { this.cut.add(`${a}|${b}`).add(`${b}|${a}`); }
  isolate(id: string): void { for (const o of this.servers.keys()) if (o !== id) this.cutLink(id, o); }
  heal(): void { this.cut.clear(); }

  /** Process every server's Ready: persist, queue messages, apply. */
  private flush(): void {
    for (const s of this.servers.values()) {
      while (s.core.hasReady()) {
        const rd = s.core.ready();
        if (rd.snapshot) {
          s.snapshot = rd.snapshot;
          s.entries = [];
        }
        const first = rd.entries[0];
        if (first) s.entries = [...s.entries.filter((e) => e.index < first.index), ...rd.entries];
        if (rd.hardState) s.hardState = rd.hardState;
        this.queue.push(...rd.messages);
        if (rd.snapshot) s.applied = JSON.parse(dec.decode(rd.snapshot.data)) as string[];
        for (const e of rd.committed) {
          if (e.type === EntryType.ConfChange) s.core.applyConfChange(decodeConfChange(e.data));
          else if (e.data.length > 0) s.applied.push(dec.decode(e.data));
        }
        s.readStates.push(...rd.readStates);
        s.core.advance(rd);
      }
    }
  }

  /** While true, stabilize() only persists: messages wait for deliver() or drop(). */
  hold = false;

  /** Messages sent and not yet delivered or dropped. */
  queued(): readonly Message[] {
    this.flush();
    return this.queue;
  }

  /** Deliver the queued messages that match (one round: what they cause is queued), in order. */
  deliver(match: (m: Message) => boolean): Message[] {
    this.flush();
    const take = this.queue.filter(match);
    this.queue = this.queue.filter((m) => !match(m));
    for (const m of take) {
      const to = this.servers.get(m.to);
      if (!to || this.cut.has(`${m.from}|${m.to}`)) continue;
      this.delivered.push(m);
      to.core.step(m);
      this.flush();
    }
    return take;
  }

  /** Lose the queued messages that match. */
  drop(match: (m: Message) => boolean): Message[] {
    this.flush();
    const lost = this.queue.filter(match);
    this.queue = this.queue.filter((m) => !match(m));
    return lost;
  }

  /** Deliver messages until the network is quiet. */
  stabilize(maxRounds = 1000): void {
    this.flush();
    if (this.hold) return;
    for (let round = 0; this.queue.length > 0; round++) {
      if (round > maxRounds) throw new Error('network did not stabilize');
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) {
        const to = this.servers.get(m.to);
        if (!to || this.cut.has(`${m.from}|${m.to}`)) continue;
        this.delivered.push(m);
        to.core.step(m);
      }
      this.flush();
    }
  }

  tick(id: string, n = 1): void {
    for (let i = 0; i < n; i++) this.get(id).core.tick();
  }

  /** Tick everyone once per round until `id` is leader (or any leader, if id is omitted). */
  elect(id?: string): string {
    if (id !== undefined) {
      for (let i = 0; i < 40 && this.get(id).core.role !== 'leader'; i++) {
        this.tick(id);
        this.stabilize();
      }
      if (this.get(id).core.role !== 'leader') throw new Error(`${id} did not become leader`);
      return id;
    }
    for (let i = 0; i < 100; i++) {
      const leader = this.leader();
      if (leader !== null) return leader;
      for (const k of this.servers.keys()) this.tick(k);
      this.stabilize();
    }
    throw new Error('no leader');
  }

  leader(): string | null {
    const leaders = [...this.servers].filter(([, s]) => s.core.role === 'leader');
    const top = Math.max(...leaders.map(([, s]) => s.core.term));
    return leaders.find(([, s]) => s.core.term === top)?.[0] ?? null;
  }

  propose(id: string, value: string): { index: number; term: number } | null {
    const at = this.get(id).core.propose(data(value));
    this.stabilize();
    return at;
  }

  /** Snapshot the applied state at its applied index and compact the log. */
  compact(id: string): void {
    const s = this.get(id);
    const index = s.core.appliedIndex;
    s.core.compact(index, data(JSON.stringify(s.applied)));
  }

  /** Persisted snapshot after compaction (what a real driver writes to disk). */
  persistCompaction(id: string): void {
    const s = this.get(id);
    const index = s.core.appliedIndex;
    const term = s.entries.find((e) => e.index === index)?.term ?? s.snapshot?.meta.term ?? 0;
    s.snapshot = { meta: { index, term, conf: s.core.conf() }, data: data(JSON.stringify(s.applied)) };
    s.entries = s.entries.filter((e) => e.index > index);
  }
}
