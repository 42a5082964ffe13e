// The production Raft node driver (server/cluster/raft-node.ts) with its real
// DiskLog, each server on its own simulated disk (sim-fs.ts), on simulated
// time and a simulated network: messages delayed, reordered and dropped,
// partitions that come and go, crashes (power loss: the disk keeps what POSIX
// promises and a random part of the rest) with restarts from the data dir,
// and disk faults (short writes, write and fsync errors) that stop a server,
// which a supervisor then restarts. Clients propose through whoever leads.
//
// Checked, on the code that runs:
// - state machine safety: no two servers (or two lives of one) ever apply
//   different data at the same log index, and each applies in index order;
// - durability: every write a leader acknowledged is applied, at the index it
//   was acknowledged with, on every server at the end;
// - liveness: once the network heals and every server is up, a leader is
//   elected and all servers apply the same last index.
// Everything runs on one seeded random source and microtasks; a seed replays.

import type { ReplicatedStateMachine } from '../../server/cluster/cluster-node.js';
import { RaftNode, type NodeClock, type RaftMessageTransport } from '../../server/cluster/raft-node.js';
import type { Message } from '../../server/raft/types.js';
import { prng, type Prng } from './prng.js';
import { SimFs, type FsFault } from './sim-fs.js';

export interface NodeSimOptions {
  readonly seed: number;
  readonly servers?: 3 | 5;
  /** Simulated seconds of faults before the final heal (default 20). */
  readonly seconds?: number;
  /** Take a snapshot every this many applied entries (small: the snapshot paths run). */
  readonly snapshotEvery?: number;
}

export interface NodeSimResult {
  readonly seed: number;
  readonly failure: string | null;
  readonly stats: { proposed: number; acked: number; crashes: number; diskFaults: number; partitions: number; maxIndex: number; leaders: number; timers: number };
}

const tickMs = 100;

interface Timer { at: number; seq: number; fn: () => void; every: number; live: boolean }

/** Simulated time: timers in (time, order of setting) order; `run` fires the next one. */
class SimClock implements NodeClock {
  nowMs = 1_800_000_000_000;
  private seq = 0;
  private heap: Timer[] = [];

  now(): number {
    return this.nowMs;
  }

  every(ms: number, fn: () => void): () => void {
    return this.add(ms, fn, ms);
  }

  after(ms: number, fn: () => void): () => void {
    return this.add(ms, fn, 0);
  }

  private add(ms: number, fn: () => void, every: number): () => void {
    const t: Timer = { at: this.nowMs + ms, seq: this.seq++, fn, every, live: true };
    this.push(t);
    return () => { t.live = false; };
  }

  /** Fire the next live timer due at or before `until`; false when there is none. */
  fireNext(until: number): boolean {
    for (;;) {
      const t = this.heap[0];
      if (!t || t.at > until) return false;
      this.pop();
      if (!t.live) continue;
      this.nowMs = Math.max(this.nowMs, t.at);
      if (t.every > 0) {
        t.at += t.every;
        t.seq = this.seq++;
        this.push(t);
      }
      t.fn();
      return true;
    }
  }

  private less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(t: Timer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i] as Timer, h[p] as Timer)) break;
      [h[i], h[p]] = [h[p] as Timer, h[i] as Timer];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop() as Timer;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l] as Timer, h[m] as Timer)) m = l;
      if (r < h.length && this.less(h[r] as Timer, h[m] as Timer)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m] as Timer, h[i] as Timer];
      i = m;
    }
  }
}

/** The state machine: the list of what it applied; every apply is checked against what any server applied at that index. */
class ListStateMachine implements ReplicatedStateMachine<number> {
  items: string[] = [];
  private last = 0;
  /** With `slices`, snapshotSlices() captures at the call and takes that many steps (the driver goes on between them, as with the production state machine). */
  readonly snapshotSlices?: () => Iterator<void, Uint8Array>;
  constructor(private readonly onApply: (index: number, value: string, previous: number) => void, slices?: number) {
    if (slices !== undefined) {
      this.snapshotSlices = function* (this: ListStateMachine): Generator<void, Uint8Array> {
        const data = this.snapshot();
        for (let i = 0; i < slices; i++) yield;
        return data;
      }.bind(this);
    }
  }
  apply(data: Uint8Array, index: number): number {
    const value = Buffer.from(data).toString();
    this.onApply(index, value, this.last);
    this.last = index;
    this.items.push(value);
    return index;
  }
  snapshot(): Uint8Array {
    return Buffer.from(JSON.stringify({ items: this.items, last: this.last }));
  }
  restore(data: Uint8Array): void {
    const s = JSON.parse(Buffer.from(data).toString()) as { items: string[]; last: number };
    this.items = s.items;
    this.last = s.last;
  }
}

interface Server {
  readonly id: string;
  readonly fs: SimFs;
  node: RaftNode<number> | null;
  /** Set while the process is down (crashed or stopped by a disk fault). */
  down: boolean;
  /** A restart is scheduled. */
  restarting: boolean;
}

const drain = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function runNodeSeed(options: NodeSimOptions): Promise<NodeSimResult> {
  const { seed } = options;
  const rng: Prng = prng(seed);
  const clock = new SimClock();
  const ids = ['a', 'b', 'c', 'd', 'e'].slice(0, options.servers ?? 3);
  const seconds = options.seconds ?? 20;
  // Whether the driver's snapshots are serialised at once or in slices while it goes on (and in how many).
  const snapshotSlices = rng.pick([undefined, 1, 5, 50]);
  const stats = { proposed: 0, acked: 0, crashes: 0, diskFaults: 0, partitions: 0, maxIndex: 0, leaders: 0, timers: 0 };
  const servers = new Map<string, Server>(ids.map((id) => [id, { id, fs: new SimFs(`/sim/${id}`), node: null, down: true, restarting: false }]));
  const blocked = new Set<string>();
  const appliedAt = new Map<number, string>();
  const acked = new Map<string, number>();
  let failure: string | null = null;
  const fail = (why: string) => { failure ??= `${why} (at ${clock.nowMs - 1_800_000_000_000} ms)`; };

  const cut = (a: string, b: string) => blocked.has(`${a}>${b}`);
  const transport = (from: string): RaftMessageTransport => ({
    send(messages: readonly Message[]) {
      for (const m of messages) {
        const sender = servers.get(from);
        if (!sender || sender.down) continue;
        const lost = cut(from, m.to) || rng.chance(0.02);
        const delay = 1 + rng.int(rng.chance(0.1) ? 200 : 15);
        clock.after(delay, () => {
          const to = servers.get(m.to);
          const ok = !lost && !!to && !to.down && to.node !== null && !cut(from, m.to);
          if (ok) to.node?.receive(m);
          // The real transport reports a snapshot's outcome to the sender's core.
          if (m.type === 'snap' && !sender.down) sender.node?.reportSnapshot(m.to, ok);
          if (!ok && (m.type === 'app' || m.type === 'snap') && !sender.down) sender.node?.reportUnreachable(m.to);
        });
      }
    },
    setPeer() {},
    removePeer() {},
  });

  const start = async (s: Server): Promise<void> => {
    const sm = new ListStateMachine((index, value, previous) => {
      if (index <= previous) fail(`${s.id} applied index ${index} after ${previous}`);
      const seen = appliedAt.get(index);
      if (seen === undefined) appliedAt.set(index, value);
      else if (seen !== value) fail(`index ${index} applied as ${JSON.stringify(value)} on ${s.id}, but as ${JSON.stringify(seen)} before`);
      stats.maxIndex = Math.max(stats.maxIndex, index);
    }, snapshotSlices);
    try {
      s.node = await RaftNode.open<number>({
        dir: `/sim/${s.id}`, fs: s.fs, clock, nodeName: s.id, address: { rpc: s.id, http: '' }, stateMachine: sm, transport: transport(s.id),
        start: ids.map((id) => ({ id, address: { rpc: id, http: '' } })), tickMs, electionTicks: 10, random: () => rng.next(),
        snapshotEvery: options.snapshotEvery ?? 25,
        onFatal: () => {
          // The process exits on a storage failure; its supervisor starts it again.
          s.down = true;
          scheduleRestart(s);
        },
      });
      s.down = false;
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      // A crash or a fault during start is the machine's doing; a refusal to start on what a crash left is a bug.
      if (/ECRASHED|EIO|ENOSPC/.test(text)) {
        s.fs.crash(rng);
        scheduleRestart(s);
      } else fail(`${s.id} could not start from its data dir: ${text}`);
    }
  };

  const stop = async (s: Server, crash: boolean): Promise<void> => {
    s.down = true;
    // Power loss: from now on every call to the disk fails; then what survived is decided.
    if (crash) s.fs.crashAt = s.fs.calls + 1;
    await s.node?.close().catch(() => {});
    s.node = null;
    if (crash) s.fs.crash(rng);
  };

  function scheduleRestart(s: Server): void {
    if (s.restarting) return;
    s.restarting = true;
    clock.after(300 + rng.int(2000), () => {
      void (async () => {
        await stop(s, true);
        s.restarting = false;
        await start(s);
      })();
    });
  }

  // Clients: a proposal every 20-80 ms through a random live server that leads (until the heal).
  let n = 0;
  let active = true;
  const propose = () => {
    if (!active) return;
    const live = [...servers.values()].filter((s) => !s.down && s.node?.isLeader());
    const s = live.length > 0 ? rng.pick(live) : undefined;
    if (s?.node) {
      const value = `v${n++}`;
      stats.proposed++;
      s.node.propose(Buffer.from(value)).then((index) => {
        acked.set(value, index);
        stats.acked++;
      }, () => {});
    }
    clock.after(20 + rng.int(60), propose);
  };

  for (const s of servers.values()) await start(s);
  clock.after(50, propose);
  let wasLeader = new Set<string>();
  const countLeaders = () => {
    const now = new Set([...servers.values()].filter((s) => !s.down && s.node?.isLeader()).map((s) => s.id));
    for (const id of now) if (!wasLeader.has(id)) stats.leaders++;
    wasLeader = now;
  };

  // Faults, every 0.5-2.5 s of simulated time.
  const faults = () => {
    if (!active) return;
    const r = rng.next();
    const pick = rng.pick([...servers.values()]);
    if (r < 0.3) {
      const other = rng.pick(ids.filter((id) => id !== pick.id));
      blocked.add(`${pick.id}>${other}`);
      if (rng.chance(0.7)) blocked.add(`${other}>${pick.id}`);
      stats.partitions++;
    } else if (r < 0.55) {
      blocked.clear();
    } else if (r < 0.65) {
      if (!pick.down && !pick.restarting) {
        stats.crashes++;
        crash(pick);
      }
    } else if (r < 0.8) {
      // Power fails at one of the server's next disk calls, in the middle of whatever it is doing;
      // the failed call stops it (onFatal) and its supervisor restarts it.
      if (!pick.down && pick.fs.crashAt === Number.POSITIVE_INFINITY) {
        stats.crashes++;
        pick.fs.crashAt = pick.fs.calls + 1 + rng.int(20);
      }
    } else if (!pick.down) {
      // A disk fault at one of the next calls: the server stops on it and is restarted.
      pick.fs.fault = rng.pick<FsFault>(['short-write', 'write-error', 'fsync-error']);
      stats.diskFaults++;
    }
    clock.after(500 + rng.int(2000), faults);
  };
  function crash(s: Server): void {
    s.down = true;
    s.restarting = true;
    void (async () => {
      await stop(s, true);
      clock.after(200 + rng.int(2500), () => {
        s.restarting = false;
        void start(s);
      });
    })();
  }
  clock.after(1000, faults);

  const base = clock.nowMs;
  let fired = 0;
  const maxTimers = (seconds + 60) * 1000;
  const runUntil = async (ms: number, done?: () => boolean) => {
    const until = base + ms;
    while (failure === null && clock.fireNext(until)) {
      stats.timers = ++fired;
      // A healthy run fires about 40 per simulated second; a message storm is a bug.
      if (fired > maxTimers) {
        fail(`the simulation ran away (${maxTimers} timers fired: a message storm)`);
        break;
      }
      await drain();
      countLeaders();
      if (done?.()) return true;
    }
    await drain();
    return done?.() ?? false;
  };

  await runUntil(seconds * 1000);
  // Heal: the network whole, every server up (restarts already scheduled go on), no more faults or writes.
  active = false;
  blocked.clear();
  const faultsEnd = seconds * 1000;
  for (const s of servers.values()) s.fs.fault = null;
  const healed = () => {
    const up = [...servers.values()];
    if (up.some((s) => s.down || s.node === null)) return false;
    const leaders = up.filter((s) => s.node?.isLeader());
    if (leaders.length !== 1) return false;
    const target = leaders[0]?.node?.commitIndex() ?? 0;
    return up.every((s) => s.node?.appliedIndex() === target && s.node.commitIndex() === target) && [...acked.values()].every((i) => i <= target);
  };
  const ok = await runUntil(faultsEnd + 60_000, healed);
  if (failure === null && !ok) {
    const state = [...servers.values()].map((s) => `${s.id}: ${s.down ? 'down' : `${s.node?.isLeader() ? 'leader' : 'follower'} term ${s.node?.term()} commit ${s.node?.commitIndex()} applied ${s.node?.appliedIndex()}`}`).join('; ');
    fail(`no agreement 60 s after the heal: ${state}`);
  }
  if (failure === null) {
    for (const [value, index] of acked) {
      if (appliedAt.get(index) !== value) fail(`acknowledged ${value} at index ${index}, but ${JSON.stringify(appliedAt.get(index))} was applied there`);
    }
  }
  for (const s of servers.values()) await s.node?.close().catch(() => {});
  return { seed, failure, stats };
}
