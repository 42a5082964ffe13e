// Raft through the real node driver, disk logs (fdatasync) and the gRPC
// transport on loopback. Three servers run in this one process (so they
// share its event loop and the machine's two cores), against a one-server
// cluster in the same run:
// - commits per second with 64 concurrent proposers (ratio 3 servers / 1);
// - commit latency p50 / p99 with one proposer;
// - failover: time from stopping the leader to a new leader ready to fire
//   (median of runs; the election timeout is 1-2 s at --raft-multiplier 1);
// - catch-up of a restarted server 100,000 entries behind, by log and by snapshot.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftNode } from '../server/cluster/raft-node.js';
import { RaftTransport } from '../server/cluster/raft-transport.js';
import { isMain, median, round, summarize } from './stats.js';

const seconds = Number(process.env['BENCH_RAFT_SECONDS'] ?? 3);
const catchUpEntries = Number(process.env['BENCH_RAFT_CATCHUP'] ?? 100_000);
const failoverRuns = Number(process.env['BENCH_RAFT_FAILOVERS'] ?? 5);
const payload = new Uint8Array(128).fill(7);

class Counter {
  applied = 0;
  apply(): number { return ++this.applied; }
  snapshot(): Uint8Array { return new TextEncoder().encode(String(this.applied)); }
  restore(data: Uint8Array): void { this.applied = Number(new TextDecoder().decode(data)); }
}

interface Server { id: string; node: RaftNode<number>; sm: Counter; transport: RaftTransport | null; dir: string; rpc: string }

async function until(what: string, f: () => boolean, ms = 120_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!f()) {
    if (performance.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export class BenchCluster {
  readonly servers = new Map<string, Server>();
  private members: { id: string; address: { rpc: string; http: string } }[] = [];

  constructor(private readonly root: string, private readonly snapshotEvery = 1_000_000) {}

  async create(ids: string[]): Promise<void> {
    const transports = new Map<string, { t: RaftTransport; rpc: string; box: { node: RaftNode<number> | null } }>();
    for (const id of ids) {
      const box: { node: RaftNode<number> | null } = { node: null };
      const t = this.transport(id, box, '127.0.0.1:0');
      transports.set(id, { t, rpc: await t.start(), box });
    }
    this.members = ids.map((id) => ({ id, address: { rpc: transports.get(id)?.rpc ?? '', http: '' } }));
    for (const id of ids) {
      const tr = transports.get(id);
      if (!tr) continue;
      await this.open(id, tr.t, tr.rpc, tr.box);
    }
  }

  private transport(id: string, box: { node: RaftNode<number> | null }, listen: string): RaftTransport {
    return new RaftTransport({
      self: id, listen,
      onMessage: (m) => box.node?.receive(m),
      onUnreachable: (p) => box.node?.reportUnreachable(p),
      onSnapshotStatus: (p, ok) => box.node?.reportSnapshot(p, ok),
    });
  }

  private async open(id: string, t: RaftTransport, rpc: string, box: { node: RaftNode<number> | null }): Promise<void> {
    const sm = new Counter();
    const dir = join(this.root, id);
    const node = await RaftNode.open<number>({
      dir, nodeName: id, address: { rpc, http: '' }, stateMachine: sm, transport: t, start: this.members, snapshotEvery: this.snapshotEvery,
    });
    box.node = node;
    this.servers.set(id, { id, node, sm, transport: t, dir, rpc });
  }

  /** Stop a server (its process would be gone): node and transport. */
  async stop(id: string): Promise<void> {
    const s = this.servers.get(id);
    if (!s) return;
    await s.node.close();
    await s.transport?.close();
    this.servers.delete(id);
  }

  /** Start a stopped server again from its data directory, on the same address. */
  async restart(id: string): Promise<Server> {
    const rpc = this.members.find((m) => m.id === id)?.address.rpc ?? '';
    const box: { node: RaftNode<number> | null } = { node: null };
    const t = this.transport(id, box, rpc);
    await t.start();
    await this.open(id, t, rpc, box);
    const s = this.servers.get(id);
    if (!s) throw new Error('restart failed');
    return s;
  }

  async leader(): Promise<Server> {
    let found: Server | undefined;
    await until('a leader', () => (found = [...this.servers.values()].find((s) => s.node.isLeader())) !== undefined);
    return found as Server;
  }

  async close(): Promise<void> {
    for (const id of [...this.servers.keys()]) await this.stop(id);
  }
}

export async function throughput(node: { propose(data: Uint8Array): Promise<unknown> }, proposers: number): Promise<{ perSecond: number; latencies: number[] }> {
  const end = performance.now() + seconds * 1000;
  const latencies: number[] = [];
  let done = 0;
  const proposer = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      await node.propose(payload);
      latencies.push(performance.now() - t0);
      done++;
    }
  };
  await Promise.all(Array.from({ length: proposers }, proposer));
  return { perSecond: done / seconds, latencies };
}

async function fill(node: RaftNode<number>, n: number): Promise<void> {
  let left = n;
  const proposer = async () => {
    while (left > 0) {
      left--;
      await node.propose(payload);
    }
  };
  await Promise.all(Array.from({ length: 64 }, proposer));
}

async function measureCluster(root: string, ids: string[]): Promise<{ perSecond: number; latency: ReturnType<typeof summarize> }> {
  const c = new BenchCluster(root);
  try {
    await c.create(ids);
    const leader = await c.leader();
    const many = await throughput(leader.node, 64);
    const one = await throughput(leader.node, 1);
    return { perSecond: many.perSecond, latency: summarize(one.latencies) };
  } finally {
    await c.close();
  }
}

async function measureFailover(root: string): Promise<number[]> {
  const times: number[] = [];
  for (let run = 0; run < failoverRuns; run++) {
    const c = new BenchCluster(join(root, `failover-${run}`));
    try {
      await c.create(['a', 'b', 'c']);
      const leader = await c.leader();
      await leader.node.propose(payload);
      const t0 = performance.now();
      await c.stop(leader.id);
      await c.leader();
      times.push(performance.now() - t0);
    } finally {
      await c.close();
    }
  }
  return times;
}

async function measureCatchUp(root: string, snapshotEvery: number): Promise<{ ms: number; bySnapshot: boolean }> {
  const c = new BenchCluster(root, snapshotEvery);
  try {
    await c.create(['a', 'b', 'c']);
    const leader = await c.leader();
    const lagging = [...c.servers.values()].find((s) => s !== leader);
    if (!lagging) throw new Error('no follower');
    await c.stop(lagging.id);
    await fill(leader.node, catchUpEntries);
    const target = leader.node.appliedIndex();
    const t0 = performance.now();
    const back = await c.restart(lagging.id);
    await until('the restarted server to catch up', () => back.node.appliedIndex() >= target);
    return { ms: performance.now() - t0, bySnapshot: snapshotEvery < catchUpEntries };
  } finally {
    await c.close();
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const root = mkdtempSync(join(tmpdir(), 'ct-bench-raft-'));
  try {
    const single = await measureCluster(join(root, 'single'), ['solo']);
    const three = await measureCluster(join(root, 'three'), ['a', 'b', 'c']);
    const failovers = await measureFailover(root);
    const byLog = await measureCatchUp(join(root, 'catchup-log'), 10_000_000);
    const bySnapshot = await measureCatchUp(join(root, 'catchup-snap'), 10_000);
    return {
      bench: 'raft-commits',
      proposers: 64,
      seconds,
      commits_per_s_3_servers: round(three.perSecond),
      commits_per_s_1_server: round(single.perSecond),
      ratio_3_vs_1: round(three.perSecond / single.perSecond),
      commit_latency_ms_3_servers: three.latency,
      commit_latency_ms_1_server: single.latency,
      failover_to_new_leader_ms_median: round(median(failovers)),
      failover_runs_ms: failovers.map((x) => round(x)),
      catch_up_entries: catchUpEntries,
      catch_up_by_log_ms: round(byLog.ms),
      catch_up_by_snapshot_ms: round(bySnapshot.ms),
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
