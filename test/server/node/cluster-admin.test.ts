// A graceful leave on the built-in Raft, driven on three real servers in this
// process: Raft nodes with disk logs over the gRPC transport on loopback, each
// serving the Cluster service. A follower asks the leader (the Leave rpc) to
// remove it; a leader hands leadership over first; a follower asked to remove
// someone points to the leader.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterProto } from '../../../proto/load-proto.js';
import type { Identity__Output } from '../../../proto/generated/clocktower/cluster/v1/Identity.js';
import { requestLeave } from '../../../server/cluster/cluster-discovery.js';
import { clusterServiceHandlers } from '../../../server/cluster/cluster-service.js';
import { RaftNode } from '../../../server/cluster/raft-node.js';
import { RaftTransport } from '../../../server/cluster/raft-transport.js';
import { RaftAdmin } from '../../../server/node/cluster-admin.js';

const enc = new TextEncoder();

/** Entries are counted; apply returns the index. */
class Counter {
  applied = 0;
  apply(_data: Uint8Array, index: number): number {
    this.applied++;
    return index;
  }
  snapshot(): Uint8Array { return enc.encode(String(this.applied)); }
  restore(data: Uint8Array): void { this.applied = Number(new TextDecoder().decode(data)); }
}

interface Server {
  readonly name: string;
  readonly node: RaftNode<number>;
  readonly lines: string[];
  stopRequested: boolean;
  readonly admin: RaftAdmin;
}

const root = mkdtempSync(join(tmpdir(), 'ct-node-admin-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

async function until<T>(what: string, f: () => T | undefined | null | false, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** `older`: servers whose Cluster service has no Leave (as a release before it). */
async function cluster(t: { teardown(fn: () => unknown): void }, name: string, ids: readonly string[], older: readonly string[] = []): Promise<Server[]> {
  const nodes = new Map<string, RaftNode<number>>();
  const transports = new Map<string, RaftTransport>();
  const lines = new Map<string, string[]>();
  const addresses = new Map<string, string>();
  for (const id of ids) {
    const log: string[] = [];
    lines.set(id, log);
    const transport = new RaftTransport({
      self: id,
      listen: '127.0.0.1:0',
      onMessage: (m) => nodes.get(id)?.receive(m),
      onUnreachable: (peer) => nodes.get(id)?.reportUnreachable(peer),
      onSnapshotStatus: (peer, ok) => nodes.get(id)?.reportSnapshot(peer, ok),
    });
    const self: Identity__Output = { node: id, rpc_addr: '', http_addr: '' };
    const handlers: Partial<ReturnType<typeof clusterServiceHandlers>> = clusterServiceHandlers({ self, known: new Map(), node: () => nodes.get(id) ?? null, log: (line) => log.push(line) });
    if (older.includes(id)) delete handlers.Leave;
    transport.addService(clusterProto().clocktower.cluster.v1.Cluster.service, handlers as ReturnType<typeof clusterServiceHandlers>);
    addresses.set(id, await transport.start());
    transports.set(id, transport);
  }
  const members = ids.map((id) => ({ id, address: { rpc: addresses.get(id) ?? '', http: '' } }));
  const servers: Server[] = [];
  for (const id of ids) {
    const node = await RaftNode.open<number>({
      dir: join(root, name, id), nodeName: id, address: { rpc: addresses.get(id) ?? '', http: '' }, stateMachine: new Counter(),
      transport: transports.get(id) as RaftTransport, start: members, tickMs: 20, snapshotEvery: 10_000,
    });
    nodes.set(id, node);
    const log = lines.get(id) ?? [];
    const server: Server = {
      name: id, node, lines: log, stopRequested: false,
      admin: new RaftAdmin({ node, tls: null, requestStop: () => { server.stopRequested = true; }, log: (line) => log.push(line) }),
    };
    servers.push(server);
  }
  t.teardown(async () => {
    for (const n of nodes.values()) await n.close();
    for (const tr of transports.values()) await tr.close();
  });
  return servers;
}

const leaderOf = (servers: readonly Server[]) => until('a leader', () => servers.find((s) => s.node.isLeader()));
const names = (s: Server) => s.node.members().map((m) => m.name).sort();

t.test('a follower leaves: the leader removes it on its Leave rpc, and the follower asks to stop', async (t) => {
  const servers = await cluster(t, 'follower', ['a', 'b', 'c']);
  const leader = await leaderOf(servers);
  const follower = servers.find((s) => s !== leader) as Server;
  await follower.admin.leave();
  t.notOk(names(leader).includes(follower.name), 'the follower is no longer a member');
  t.ok(leader.lines.some((l) => l.includes(`removed ${follower.name} (it left)`)), 'the leader removed it on the Cluster service\'s Leave rpc');
  t.ok(follower.lines.includes('cluster: left the cluster; stopping'));
  await until('the stop request', () => follower.stopRequested);
  const rest = servers.filter((s) => s !== follower);
  t.ok(await leader.node.propose(enc.encode('after')), 'the two left still commit');
  await until('both to agree on the membership', () => names(rest[0] as Server).join() === names(rest[1] as Server).join() && !names(rest[0] as Server).includes(follower.name));
});

t.test('the leader leaves: it hands leadership over, then the new leader removes it', async (t) => {
  const servers = await cluster(t, 'leader', ['a', 'b', 'c']);
  const leader = await leaderOf(servers);
  await leader.admin.leave();
  t.notOk(leader.node.isLeader(), 'it no longer leads');
  const rest = servers.filter((s) => s !== leader);
  const next = await leaderOf(rest);
  t.notOk(names(next).includes(leader.name), 'the old leader is no longer a member');
  t.ok(next.lines.some((l) => l.includes(`removed ${leader.name} (it left)`)), 'the new leader removed it on its Leave rpc');
  await until('the stop request', () => leader.stopRequested);
  t.ok(await next.node.propose(enc.encode('after')), 'the two left still commit');
});

t.test('Leave on a follower points to the leader; a name that is no member is already out', async (t) => {
  const servers = await cluster(t, 'redirect', ['a', 'b', 'c']);
  const leader = await leaderOf(servers);
  const follower = servers.find((s) => s !== leader) as Server;
  const followerRpc = follower.node.addressOf(follower.name)?.rpc ?? '';
  const leaderRpc = leader.node.addressOf(leader.name)?.rpc ?? '';
  await until('the follower to know the leader', () => follower.node.leaderName() === leader.name);
  const redirected = await requestLeave(followerRpc, follower.name);
  t.same({ error: redirected.error, leader_rpc_addr: redirected.leader_rpc_addr }, { error: '', leader_rpc_addr: leaderRpc }, 'a follower redirects to the leader');
  t.ok(names(leader).includes(follower.name), 'and removes nobody');
  const unknown = await requestLeave(leaderRpc, 'nobody');
  t.same({ error: unknown.error, leader_rpc_addr: unknown.leader_rpc_addr }, { error: '', leader_rpc_addr: '' }, 'no member by that name: nothing to do');
  const empty = await requestLeave(leaderRpc, '');
  t.match(empty.error, /names no node/);
});

t.test('a leader of a release without Leave: the leave fails at once and says what to do', async (t) => {
  const servers = await cluster(t, 'older', ['a', 'b', 'c'], ['a', 'b', 'c']);
  const leader = await leaderOf(servers);
  const follower = servers.find((s) => s !== leader) as Server;
  await until('the follower to know the leader', () => follower.node.leaderName() === leader.name);
  await t.rejects(follower.admin.leave(), { code: 'CT_CLUSTER_NOT_LEADER', message: /without the Leave call: upgrade it first, or remove this server there with `clocktower raft remove-peer/ });
  t.ok(names(leader).includes(follower.name), 'still a member');
  t.notOk(follower.stopRequested, 'and it does not stop');
});
