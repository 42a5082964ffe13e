// A real 3-server cluster (no TLS) attacked on its Raft port with nothing but
// the proto files, as anyone on the network could: a heartbeat carrying a term
// that cannot be incremented safely, a message from a server that is not a
// member, a snapshot header announcing 4 GiB, an oversize chunk, and Joins
// that try to move the leader's (or a live follower's) advertised address.
// Each is refused; the cluster keeps its term, its members and its writes.
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { clusterProto, raftProto } from '../../proto/load-proto.js';
import type { RaftMessage } from '../../proto/generated/clocktower/raft/v1/RaftMessage.js';
import type { SnapshotChunk } from '../../proto/generated/clocktower/raft/v1/SnapshotChunk.js';
import { call, tempDir, until } from '../support/light-process.js';
import { agreedLeader, serverSpecs, startServerProcess, type ServerProcess } from '../support/cluster-processes.js';

const root = tempDir('ct-hostile-raft-');
const specs = await serverSpecs(root.path, ['h1', 'h2', 'h3']);
const servers = await Promise.all(specs.map((s) => startServerProcess(s)));
t.teardown(async () => {
  for (const s of servers) await s.kill9().catch(() => {});
  root.remove();
});

async function term(s: ServerProcess): Promise<number> {
  const r = await fetch(`${s.url}/metrics`);
  const m = /^clocktower_raft_term (\d+)/m.exec(await r.text());
  return Number(m?.[1] ?? NaN);
}

function raftClient(addr: string) {
  return new (raftProto().clocktower.raft.v1.Raft)(addr, grpc.credentials.createInsecure());
}

const wireMessage = (over: Partial<RaftMessage>): RaftMessage => ({
  type: 'MESSAGE_TYPE_HEARTBEAT', term: 1, log_term: 0, index: 0, entries: [], commit: 0,
  reject: false, reject_hint: 0, reject_hint_term: 0, context: '', ...over,
});

/** Sends messages on one Send stream and waits until the server has taken them. */
async function sendRaft(addr: string, messages: RaftMessage[]): Promise<void> {
  const c = raftClient(addr);
  await new Promise<void>((resolve, reject) => {
    const stream = c.Send((err) => (err ? reject(err) : resolve()));
    for (const m of messages) stream.write(m);
    stream.end();
  });
  c.close();
}

/** Starts an InstallSnapshot with these chunks; resolves with the status it ends with. */
async function installSnapshot(addr: string, chunks: SnapshotChunk[]): Promise<grpc.ServiceError | null> {
  const c = raftClient(addr);
  const err = await new Promise<grpc.ServiceError | null>((resolve) => {
    const stream = c.InstallSnapshot((e) => resolve(e));
    for (const ch of chunks) stream.write(ch);
    stream.end();
  });
  c.close();
  return err;
}

async function join(addr: string, node: { node: string; rpc_addr: string; http_addr: string }): Promise<{ error: string; leader_rpc_addr: string }> {
  const c = new (clusterProto().clocktower.cluster.v1.Cluster)(addr, grpc.credentials.createInsecure());
  const r = await new Promise<{ error: string; leader_rpc_addr: string }>((resolve, reject) => {
    c.Join({ node }, { deadline: Date.now() + 5000 }, (err, res) => (err || !res ? reject(err ?? new Error('no answer')) : resolve(res)));
  });
  c.close();
  return r;
}

const leader = await agreedLeader(servers);
const followers = servers.filter((s) => s !== leader);
const terms = await Promise.all(servers.map(term));

t.test('a heartbeat with term 2^53-1 from a member name is dropped and never persisted', async (t) => {
  const forged = [
    wireMessage({ from: leader.name, term: String(Number.MAX_SAFE_INTEGER) }),
    wireMessage({ from: leader.name, term: String(2 ** 48 + 1), type: 'MESSAGE_TYPE_VOTE' }),
    wireMessage({ from: leader.name, term: 3, commit: String(2 ** 53 - 2) }),
  ];
  for (const f of followers) await sendRaft(f.rpcAddr, forged.map((m) => ({ ...m, to: f.name })));
  await sendRaft(leader.rpcAddr, forged.map((m) => ({ ...m, from: followers[0]?.name ?? '', to: leader.name })));
  await until('the forged messages to be logged as malformed', async () => (servers.every((s) => /malformed message/.test(s.log())) ? true : undefined));
  const created = await call(followers[0]?.url ?? '', 'POST', '/v1/jobs', { name: 'after-term', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } });
  t.equal(created.status, 201, 'the cluster still takes writes');
  const after = await Promise.all(servers.map(term));
  for (const [i, n] of after.entries()) t.ok(n < 1000 && n === terms[i], `${servers[i]?.name} kept term ${terms[i]} (now ${n})`);
  t.match(followers[0]?.log() ?? '', /larger than 281474976710656|is not a safe integer/);
});

t.test('a vote request from a server that is not a member is dropped', async (t) => {
  const f = followers[0] as ServerProcess;
  await sendRaft(f.rpcAddr, [wireMessage({ type: 'MESSAGE_TYPE_VOTE', from: 'mallory', to: f.name, term: 500, log_term: 500, index: 10_000 })]);
  await until('the drop to be logged', async () => (/dropping messages from "mallory", which is not a member/.test(f.log()) ? true : undefined));
  t.equal(await term(f), terms[servers.indexOf(f)], 'the term did not move');
  t.equal((await agreedLeader(servers)).name, leader.name, 'the same leader');
});

t.test('a snapshot header announcing 4 GiB is refused at once; so is an oversize chunk', async (t) => {
  const f = followers[1] as ServerProcess;
  const message = wireMessage({ type: 'MESSAGE_TYPE_SNAP', from: leader.name, to: f.name, term: terms[0] ?? 1 });
  const header = (size: number): SnapshotChunk => ({ header: { message, meta: { index: 1, term: 1, conf: { voters: [f.name], learners: [] } }, size } });
  const huge = await installSnapshot(f.rpcAddr, [header(4 * 1024 ** 3)]);
  t.equal(huge?.code, grpc.status.RESOURCE_EXHAUSTED, huge?.details ?? "");
  t.match(huge?.details, /larger than the \d+ bytes allowed/);
  const chunky = await installSnapshot(f.rpcAddr, [header(8 * 1024 * 1024), { data: Buffer.alloc(6 * 1024 * 1024) }]);
  t.equal(chunky?.code, grpc.status.RESOURCE_EXHAUSTED, chunky?.details ?? "");
  t.match(chunky?.details, /snapshot chunk of 6291456 bytes/);
  const stranger = await installSnapshot(f.rpcAddr, [{ header: { ...header(10), message: { ...message, from: 'mallory' } } }, { data: Buffer.alloc(10) }]);
  t.equal(stranger?.code, grpc.status.UNAVAILABLE, 'a snapshot from a non-member is refused');
  const read = await call(f.url, 'GET', '/v1/jobs/after-term');
  t.equal(read.status, 200, 'the follower still has its jobs');
});

t.test('an unauthenticated Join cannot move the leader or a live follower', async (t) => {
  const before = (await call(leader.url, 'GET', '/v1/raft/peers')).body;
  const evil = { rpc_addr: '127.0.0.1:1', http_addr: '127.0.0.1:2' };
  const asLeader = await join(leader.rpcAddr, { node: leader.name, ...evil });
  t.match(asLeader.error, /still answers at/, 'moving the leader is refused');
  const asFollower = await join(leader.rpcAddr, { node: followers[0]?.name ?? '', ...evil });
  t.match(asFollower.error, /still answers at/, 'moving a live follower is refused');
  t.same((await call(leader.url, 'GET', '/v1/raft/peers')).body, before, 'the membership is unchanged');
  const viaFollower = await call(followers[1]?.url ?? '', 'POST', '/v1/jobs', { name: 'after-join', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } });
  t.equal(viaFollower.status, 201, 'a write through a follower still reaches the real leader');
  t.equal((await call(leader.url, 'GET', '/v1/jobs/after-join')).status, 200);
});
