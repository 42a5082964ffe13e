// `--store etcd` against the built-in Raft, in the same run on the same machine.
// etcd is Debian's etcd-server (ETCD=/path overrides), three members on
// loopback, started here.
// - commits per second with 64 concurrent proposers, and commit latency with
//   one: the etcd command log (EtcdNode, in this process) on the three-member
//   etcd, against three Raft servers (real driver, disk logs, gRPC) in this
//   process (BENCH_ETCD_SECONDS each, default 3);
// - fire -> result latency: real `clocktower agent --server` processes (two
//   on etcd; three on Raft), an @every 1s shell `true` job, finished_at minus
//   scheduled_at of BENCH_ETCD_FIRES executions (default 10) after the first two;
// - failover: kill -9 of the leading server, time until the others agree on a
//   new leader (BENCH_ETCD_FAILOVERS runs each, default 3; etcd's lease TTL 2 s,
//   Raft's election timeout 1-2 s).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdNode } from '../server/store-etcd/etcd-node.js';
import { startEtcdCluster, type EtcdCluster } from '../test/support/etcd-server.js';
import { agreedLeader, serverSpecs, startServerProcess, type ServerProcess, type ServerSpec } from '../test/support/cluster-processes.js';
import { call, type ExecutionJson } from '../test/support/light-process.js';
import { BenchCluster, throughput } from './raft-commits.js';
import { isMain, median, round, summarize } from './stats.js';

const seconds = Number(process.env['BENCH_ETCD_SECONDS'] ?? 3);
const fires = Number(process.env['BENCH_ETCD_FIRES'] ?? 10);
const failovers = Number(process.env['BENCH_ETCD_FAILOVERS'] ?? 3);

class Counter {
  applied = 0;
  apply(): number { return ++this.applied; }
  snapshot(): Uint8Array { return new TextEncoder().encode(String(this.applied)); }
  restore(data: Uint8Array): void { this.applied = Number(new TextDecoder().decode(data)); }
}

async function poll<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function commitsOnEtcd(etcd: EtcdCluster): Promise<{ perSecond: number; latency: ReturnType<typeof summarize> }> {
  const node = await EtcdNode.open<number>({
    nodeName: 'bench', address: { rpc: 'bench:1', http: 'bench:2' },
    etcd: { endpoints: [...etcd.urls], prefix: '/bench-commits', leaseTtlSec: 3 },
    stateMachine: new Counter(), snapshotEvery: 10_000, log: () => {},
  });
  try {
    await poll('the etcd node to lead', () => Promise.resolve(node.isLeader() || undefined));
    const many = await throughput(node, 64);
    const one = await throughput(node, 1);
    return { perSecond: many.perSecond, latency: summarize(one.latencies) };
  } finally {
    await node.close();
  }
}

async function commitsOnRaft(root: string): Promise<{ perSecond: number; latency: ReturnType<typeof summarize> }> {
  const c = new BenchCluster(root);
  try {
    await c.create(['a', 'b', 'c']);
    const leader = await c.leader();
    const many = await throughput(leader.node, 64);
    const one = await throughput(leader.node, 1);
    return { perSecond: many.perSecond, latency: summarize(one.latencies) };
  } finally {
    await c.close();
  }
}

/** Fire -> result latency of an @every 1s job, then kill -9 failovers, on real server processes. */
async function processes(specs: ServerSpec[]): Promise<{ fireToResult: ReturnType<typeof summarize>; failover: number[] }> {
  const servers = new Map<string, ServerProcess>();
  for (const s of await Promise.all(specs.map((s) => startServerProcess(s)))) servers.set(s.name, s);
  try {
    let leader = await agreedLeader([...servers.values()], 60_000);
    const made = await call(leader.url, 'POST', '/v1/jobs', { name: 'beat', schedule: '@every 1s', executor: 'shell', executor_config: { command: 'true' } });
    if (made.status !== 201) throw new Error(`bench: could not create the job: ${made.text}`);
    const done = await poll(`${fires + 2} results`, async () => {
      const list = ((await call(leader.url, 'GET', '/v1/jobs/beat/executions')).body as ExecutionJson[]).filter((e) => e.finished_at !== null);
      return list.length >= fires + 2 ? list : undefined;
    });
    const sorted = done.sort((a, b) => Date.parse(a.scheduled_at) - Date.parse(b.scheduled_at)).slice(2, fires + 2);
    const fireToResult = summarize(sorted.map((e) => Date.parse(e.finished_at ?? '') - Date.parse(e.scheduled_at)));
    const failover: number[] = [];
    for (let i = 0; i < failovers; i++) {
      const killedAt = Date.now();
      await leader.kill9();
      servers.delete(leader.name);
      const next = await agreedLeader([...servers.values()], 60_000);
      failover.push(Date.now() - killedAt);
      const spec = specs.find((s) => s.name === leader.name);
      if (!spec) throw new Error('bench: lost a spec');
      servers.set(spec.name, await startServerProcess(spec));
      leader = await agreedLeader([...servers.values()], 60_000);
      if (leader.name !== next.name) throw new Error('bench: the leader moved again after a restart');
    }
    return { fireToResult, failover };
  } finally {
    await Promise.all([...servers.values()].map((s) => s.kill9()));
  }
}

export async function run(): Promise<Record<string, unknown>> {
  const root = mkdtempSync(join(tmpdir(), 'ct-bench-etcd-'));
  const etcd = await startEtcdCluster(3);
  try {
    const onEtcd = await commitsOnEtcd(etcd);
    const onRaft = await commitsOnRaft(join(root, 'raft'));
    const etcdSpecs = (await serverSpecs(join(root, 'etcd-servers'), ['e1', 'e2'])).map((s) => ({
      ...s, args: ['--store', 'etcd', '--etcd-endpoints', etcd.urls.join(','), '--etcd-prefix', '/bench-servers', '--etcd-lease-ttl', '2s'],
    }));
    const etcdProcs = await processes(etcdSpecs);
    const raftProcs = await processes(await serverSpecs(join(root, 'raft-servers'), ['r1', 'r2', 'r3']));
    return {
      bench: 'etcd-store',
      etcd_members: 3,
      proposers: 64,
      seconds,
      commits_per_s_etcd: round(onEtcd.perSecond),
      commits_per_s_raft_3_servers: round(onRaft.perSecond),
      ratio_commits_etcd_vs_raft: round(onEtcd.perSecond / onRaft.perSecond),
      commit_latency_ms_etcd: onEtcd.latency,
      commit_latency_ms_raft: onRaft.latency,
      ratio_commit_latency_p50_etcd_vs_raft: round(onEtcd.latency.p50 / onRaft.latency.p50),
      fire_to_result_ms_etcd_2_servers: etcdProcs.fireToResult,
      fire_to_result_ms_raft_3_servers: raftProcs.fireToResult,
      ratio_fire_to_result_p50_etcd_vs_raft: round(etcdProcs.fireToResult.p50 / raftProcs.fireToResult.p50),
      failover_ms_median_etcd: round(median(etcdProcs.failover)),
      failover_ms_median_raft: round(median(raftProcs.failover)),
      failover_runs_ms_etcd: etcdProcs.failover,
      failover_runs_ms_raft: raftProcs.failover,
      etcd_lease_ttl_s: 2,
      raft_election_timeout_ms: { min: 1000, max: 2000 },
    };
  } finally {
    await etcd.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) console.log(JSON.stringify(await run()));
