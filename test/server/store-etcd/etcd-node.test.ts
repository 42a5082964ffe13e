// The etcd command log against a real etcd: two nodes elect one leader and
// apply one order; a leader whose lease is gone (as when it was paused past
// its TTL) has its fenced write refused by etcd; snapshots delete the log
// and a late or restarted node restores from them; on a three-member etcd,
// losing one member goes unnoticed.
import t from 'tap';
import { Etcd3 } from 'etcd3';
import { EtcdNode, decodeBatch } from '../../../server/store-etcd/etcd-node.js';
import { ClusterError } from '../../../server/cluster/cluster-node.js';
import { startEtcd, startEtcdCluster } from '../../support/etcd-server.js';
import { until } from '../../support/light-process.js';

const etcd = await startEtcd();
const admin = new Etcd3({ hosts: etcd.url });
const open: EtcdNode<number>[] = [];
t.teardown(async () => {
  for (const n of open) await n.close().catch(() => {});
  admin.close();
  await etcd.stop();
});

/** A state machine that keeps the commands it applied, in order. */
class ListMachine {
  items: string[] = [];
  apply(data: Uint8Array): number {
    this.items.push(Buffer.from(data).toString());
    return this.items.length;
  }
  snapshot(): Uint8Array {
    return Buffer.from(JSON.stringify(this.items));
  }
  restore(data: Uint8Array): void {
    this.items = JSON.parse(Buffer.from(data).toString()) as string[];
  }
}

async function node(prefix: string, name: string, snapshotEvery = 1000, endpoints = [etcd.url]) {
  const sm = new ListMachine();
  const n = await EtcdNode.open<number>({
    nodeName: name, address: { rpc: `${name}:1`, http: `${name}:2` },
    etcd: { endpoints, prefix, leaseTtlSec: 2 },
    stateMachine: sm, snapshotEvery, log: (l) => { if (process.env["ETCD_NODE_LOG"]) console.error(l); },
  });
  open.push(n);
  return { n, sm };
}

async function leaderOf<T extends { n: EtcdNode<number> }>(nodes: readonly T[]): Promise<T> {
  return until('a leader', async () => nodes.find((x) => x.n.isLeader()), 15_000);
}

t.test('one leader, one order, seen by both', async (t) => {
  const a = await node('/t1', 'a');
  const b = await node('/t1', 'b');
  const leader = await leaderOf([a, b]);
  const follower = leader === a ? b : a;
  t.rejects(follower.n.propose(Buffer.from('x')), { code: 'CT_CLUSTER_NOT_LEADER' }, 'a follower does not write');
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => leader.n.propose(Buffer.from(`c${i}`))));
  t.same(results, Array.from({ length: 200 }, (_, i) => i + 1), 'each proposal answered with its own apply result');
  await follower.n.readBarrier();
  t.same(follower.sm.items, leader.sm.items, 'the follower applied the same order after a read barrier');
  t.equal(leader.sm.items.length, 200);
  t.same(follower.n.members().map((m) => [m.name, m.role]), [['a', leader === a ? 'leader' : 'follower'], ['b', leader === b ? 'leader' : 'follower']]);
  t.equal(follower.n.addressOf(leader.n.nodeName)?.http, `${leader.n.nodeName}:2`, 'the leader\'s API address is known');
});

t.test('a deposed leader\'s fenced write is refused by etcd', async (t) => {
  const a = await node('/t2', 'a');
  const b = await node('/t2', 'b');
  const old = await leaderOf([a, b]);
  const other = old === a ? b : a;
  await old.n.propose(Buffer.from('before'));
  // What the old leader believes it holds, kept as a paused process would keep it.
  const internals = old.n as unknown as { leaderRev: string; leaseId: string; fencedTxn(rev: string, c: unknown[], s: unknown[]): Promise<boolean>; logKey(seq: number): Buffer };
  const heldRev = internals.leaderRev;
  t.ok(heldRev, 'the leader holds a leader key revision');
  // Force the lease to end, as its TTL would while the leader is paused.
  await admin.leaseClient.leaseRevoke({ ID: internals.leaseId });
  await until('the other node to lead', async () => other.n.isLeader() || undefined, 15_000);
  const ok = await internals.fencedTxn(heldRev, [], [{ request_put: { key: internals.logKey(99), value: Buffer.from('stale') } }]);
  t.equal(ok, false, 'etcd refuses the write fenced on the old leadership');
  t.notOk(old.n.isLeader(), 'the old leader knows it no longer leads');
  await t.rejects(old.n.propose(Buffer.from('late')), ClusterError);
  await other.n.propose(Buffer.from('after'));
  await old.n.readBarrier();
  t.same(other.sm.items, ['before', 'after'], 'nothing from the deposed leader was applied');
  t.same(old.sm.items, ['before', 'after']);
  const stale = await admin.get(`/t2/log/${String(99).padStart(16, '0')}`).string();
  t.equal(stale, null, 'the stale write is not in etcd');
});

/** Commands kept in etcd's log past the snapshot (what a restart would replay), and how many log keys hold them. */
async function logTail(prefix: string): Promise<{ keys: number; commandsAfterSnapshot: number; snapshotIndex: number }> {
  const snap = await admin.get(`${prefix}/snapshot`).buffer();
  const snapshotIndex = snap ? Number(snap.readBigUInt64BE(8)) : 0;
  const batches = await admin.getAll().prefix(`${prefix}/log/`).buffers();
  let commandsAfterSnapshot = 0;
  for (const value of Object.values(batches)) {
    const { first, commands } = decodeBatch(value);
    commandsAfterSnapshot += commands.filter((_, i) => first + i > snapshotIndex).length;
  }
  return { keys: Object.keys(batches).length, commandsAfterSnapshot, snapshotIndex };
}

t.test('snapshots bound the log; a late node and a restart restore from them', async (t) => {
  const a = await node('/t3', 'a', 20);
  await leaderOf([a]);
  for (let i = 0; i < 10; i++) await Promise.all(Array.from({ length: 15 }, (_, j) => a.n.propose(Buffer.from(`k${i}-${j}`))));
  // A burst that ends while a snapshot is being written is folded by the next one.
  const tail = await until('a snapshot to fold the log', async () => {
    const got = await logTail('/t3');
    return got.commandsAfterSnapshot < 20 ? got : undefined;
  }, 10_000);
  t.ok(tail.keys <= 20, `the log keeps few batches (${tail.keys})`);
  t.ok(await admin.get('/t3/snapshot').buffer(), 'a snapshot is stored');
  const late = await node('/t3', 'late', 20);
  await late.n.readBarrier();
  t.same(late.sm.items, a.sm.items, 'a node that starts later has every command');
  t.equal(late.sm.items.length, 150);
  await a.n.close();
  await late.n.close();
  const again = await node('/t3', 'a', 20);
  await leaderOf([again]);
  t.equal(again.sm.items.length, 150, 'a restart restores the state from etcd');
  await again.n.propose(Buffer.from('next'));
  t.equal(again.sm.items.at(-1), 'next');
});

t.test('many commands: the keys under the prefix stay bounded and etcd\'s history is compacted', async (t) => {
  const every = 200;
  const a = await node('/t5', 'a', every);
  await leaderOf([a]);
  const firstRev = Number((await admin.kv.range({ key: Buffer.from('/t5/leader') })).header.revision);
  for (let round = 0; round < 30; round++) {
    await Promise.all(Array.from({ length: 100 }, (_, j) => a.n.propose(Buffer.from(`m${round}-${j}`))));
  }
  t.equal(a.sm.items.length, 3000);
  const tail = await until('the log to be folded', async () => {
    const got = await logTail('/t5');
    return got.commandsAfterSnapshot < every ? got : undefined;
  }, 20_000);
  t.ok(tail.snapshotIndex >= 3000 - every, `the snapshot is recent (index ${tail.snapshotIndex})`);
  const keys = await admin.getAll().prefix('/t5/').keys();
  // leader, one member, the snapshot, and the batches of fewer than --snapshot-every commands.
  t.ok(keys.length <= 3 + every, `keys under the prefix are bounded (${keys.length} after 3000 commands)`);
  await t.rejects(admin.kv.range({ key: Buffer.from('/t5/leader'), revision: String(firstRev) }), /compacted/, 'old revisions are compacted away');
  const late = await node('/t5', 'late', every);
  await late.n.readBarrier();
  t.same(late.sm.items, a.sm.items, 'a late node rebuilds the same state from the snapshot and the tail');
});

t.test('three etcd members: one killed, the leader keeps leading and every proposal commits', async (t) => {
  const cluster = await startEtcdCluster(3);
  t.teardown(() => cluster.stop());
  const a = await node('/t4', 'a', 1000, [...cluster.urls]);
  const b = await node('/t4', 'b', 1000, [...cluster.urls]);
  const leader = await leaderOf([a, b]);
  const follower = leader === a ? b : a;
  for (let i = 0; i < 20; i++) await leader.n.propose(Buffer.from(`before-${i}`));
  await cluster.kill(0);
  for (let i = 0; i < 20; i++) await leader.n.propose(Buffer.from(`after-${i}`));
  t.ok(leader.n.isLeader(), 'the same node leads');
  await follower.n.readBarrier();
  t.equal(follower.sm.items.length, 40, 'the follower has every command');
  t.same(follower.sm.items, leader.sm.items);
});

// etcd refuses a request larger than its --max-request-bytes (1.5 MiB by
// default): a burst of commands that together take far more must still be
// written, as several batches, and a command that cannot fit is refused on
// its own while the leader goes on leading.
t.test('a burst larger than etcd\'s request limit: every command is applied, in order', async (t) => {
  const small = await startEtcd(20_000, undefined, ['--max-request-bytes', String(64 * 1024)]);
  t.teardown(() => small.stop());
  const a = await node('/t6', 'a', 100_000, [small.url]);
  const b = await node('/t6', 'b', 100_000, [small.url]);
  const leader = await leaderOf([a, b]);
  const follower = leader === a ? b : a;
  // 600 commands of 1 KiB: one batch of them would be ten times etcd's limit.
  const payload = (i: number) => Buffer.from(`burst-${i}-`.padEnd(1024, 'x'));
  const results = await Promise.all(Array.from({ length: 600 }, (_, i) => leader.n.propose(payload(i))));
  t.same(results, Array.from({ length: 600 }, (_, i) => i + 1), 'each proposal committed and answered with its own result');
  t.ok(leader.n.isLeader(), 'the leader still leads');
  await follower.n.readBarrier();
  t.equal(follower.sm.items.length, 600);
  t.same(follower.sm.items, leader.sm.items, 'the follower applied the same order');
  t.same(leader.sm.items.map((s) => s.split('-')[1]), Array.from({ length: 600 }, (_, i) => String(i)), 'in the order proposed');
});

t.test('a command larger than etcd\'s request limit is refused on its own; the rest commit', async (t) => {
  const small = await startEtcd(20_000, undefined, ['--max-request-bytes', String(64 * 1024)]);
  t.teardown(() => small.stop());
  const a = await node('/t7', 'a', 100_000, [small.url]);
  await leaderOf([a]);
  const before = Array.from({ length: 40 }, (_, i) => a.n.propose(Buffer.from(`before-${i}`.padEnd(2048, 'x'))));
  const huge = a.n.propose(Buffer.alloc(128 * 1024, 'h'));
  const after = Array.from({ length: 40 }, (_, i) => a.n.propose(Buffer.from(`after-${i}`.padEnd(2048, 'x'))));
  // Past the limit plus 512 KiB etcd's gRPC server refuses the message itself (RESOURCE_EXHAUSTED, not etcd's own error).
  const huger = a.n.propose(Buffer.alloc(1024 * 1024, 'h'));
  const last = Array.from({ length: 5 }, (_, i) => a.n.propose(Buffer.from(`last-${i}`)));
  await t.rejects(huge, { code: 'CT_CLUSTER_ENTRY_TOO_LARGE' }, 'the command that can never fit is refused with a clear error');
  await t.rejects(huger, { code: 'CT_CLUSTER_ENTRY_TOO_LARGE' }, 'so is one larger than etcd\'s gRPC message limit');
  await Promise.all(last);
  const committed = await Promise.all([...before, ...after]);
  t.equal(committed.length, 80, 'every other command of the burst committed');
  t.equal(a.sm.items.length, 85);
  t.ok(a.n.isLeader(), 'the leader still leads');
  t.notOk(a.sm.items.some((s) => s.startsWith('h')), 'the refused command was not applied');
  t.equal(await a.n.propose(Buffer.from('next')), 86, 'and writes go on');
});

t.test('a late node reads back batches that together exceed the client\'s gRPC message limit', async (t) => {
  const a = await node('/t8', 'a', 100_000);
  await leaderOf([a]);
  // 24 commands of 300 KiB (7 MiB in all; gRPC's default receive limit is 4 MiB).
  const results = await Promise.all(Array.from({ length: 24 }, (_, i) => a.n.propose(Buffer.from(`big-${i}-`.padEnd(300 * 1024, 'y')))));
  t.equal(results.length, 24, 'every command committed');
  const late = await node('/t8', 'late', 100_000);
  await late.n.readBarrier();
  t.equal(late.sm.items.length, 24, 'the late node has every command');
  t.same(late.sm.items, a.sm.items);
});
