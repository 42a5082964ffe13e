// The Raft node driver with real disk logs, over an in-memory transport that
// can cut servers off: election, writes, linearizable reads, restart from
// disk, catch-up by snapshot, and membership change.
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftNode, type RaftMessageTransport } from '../../../server/cluster/raft-node.js';
import type { Message } from '../../../server/raft/types.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A key-value state machine: entries are "key=value"; apply returns the index. */
class Kv {
  values = new Map<string, string>();
  apply(data: Uint8Array, index: number): number {
    const [k, v] = dec.decode(data).split('=');
    this.values.set(k ?? '', v ?? '');
    return index;
  }
  snapshot(): Uint8Array { return enc.encode(JSON.stringify([...this.values])); }
  restore(data: Uint8Array): void { this.values = new Map(JSON.parse(dec.decode(data)) as [string, string][]); }
}

class MemoryNetwork {
  readonly nodes = new Map<string, RaftNode<number>>();
  readonly down = new Set<string>();
  transport(self: string): RaftMessageTransport {
    return {
      send: (msgs: readonly Message[]) => {
        for (const m of msgs) {
          queueMicrotask(() => {
            if (this.down.has(m.from) || this.down.has(m.to)) {
              if (m.type === 'snap') this.nodes.get(self)?.reportSnapshot(m.to, false);
              return;
            }
            this.nodes.get(m.to)?.receive(m);
          });
        }
      },
      setPeer: () => {},
      removePeer: () => {},
    };
  }
}

const root = mkdtempSync(join(tmpdir(), 'ct-raft-node-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

async function until<T>(what: string, f: () => T | undefined | null | false, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Cluster { net: MemoryNetwork; kv: Map<string, Kv>; open(id: string, start?: 'join'): Promise<RaftNode<number>>; leader(): Promise<RaftNode<number>>; close(): Promise<void> }

function cluster(name: string, ids: string[], snapshotEvery = 10_000): Cluster {
  const net = new MemoryNetwork();
  const kv = new Map<string, Kv>();
  const members = ids.map((id) => ({ id, address: { rpc: `${id}:1`, http: `${id}:2` } }));
  const c: Cluster = {
    net, kv,
    async open(id, start) {
      const sm = new Kv();
      kv.set(id, sm);
      const node = await RaftNode.open<number>({
        dir: join(root, name, id), nodeName: id, address: { rpc: `${id}:1`, http: `${id}:2` }, stateMachine: sm,
        transport: net.transport(id), start: start ?? members, tickMs: 10, snapshotEvery,
      });
      net.nodes.set(id, node);
      return node;
    },
    leader: () => until('a leader', () => [...net.nodes.values()].find((n) => n.isLeader() && !net.down.has(n.nodeName))),
    async close() { for (const n of net.nodes.values()) await n.close(); },
  };
  return c;
}

t.test('three servers elect a leader, commit writes and serve linearizable reads', async (t) => {
  const c = cluster('basic', ['a', 'b', 'c']);
  t.teardown(() => c.close());
  for (const id of ['a', 'b', 'c']) await c.open(id);
  const leader = await c.leader();
  const indexes = await Promise.all(Array.from({ length: 50 }, (_, i) => leader.propose(enc.encode(`k${i}=v${i}`))));
  t.equal(new Set(indexes).size, 50, 'every write has its own index');
  const follower = [...c.net.nodes.values()].find((n) => n !== leader)!;
  await t.rejects(follower.propose(enc.encode('x=y')), { code: 'CT_CLUSTER_NOT_LEADER' });
  await follower.readBarrier();
  t.equal(c.kv.get(follower.nodeName)?.values.get('k49'), 'v49', 'a read after the barrier sees every acknowledged write');
  t.same(follower.members().map((m) => m.name).sort(), ['a', 'b', 'c']);
});

t.test('a new leader after the old one is cut off; the old one rejoins from disk', async (t) => {
  const c = cluster('failover', ['a', 'b', 'c']);
  t.teardown(() => c.close());
  for (const id of ['a', 'b', 'c']) await c.open(id);
  const first = await c.leader();
  await first.propose(enc.encode('before=1'));
  c.net.down.add(first.nodeName);
  const second = await c.leader();
  t.not(second.nodeName, first.nodeName);
  await second.propose(enc.encode('after=2'));
  await until('the old leader to step down', () => !first.isLeader());
  await first.close();
  c.net.down.delete(first.nodeName);
  const reopened = await c.open(first.nodeName);
  await until('the restarted server to catch up', () => c.kv.get(reopened.nodeName)?.values.get('after') === '2');
  t.equal(c.kv.get(reopened.nodeName)?.values.get('before'), '1', 'recovered from its own disk');
});

t.test('a server far behind catches up by snapshot', async (t) => {
  const c = cluster('snap', ['a', 'b', 'c'], 20);
  t.teardown(() => c.close());
  for (const id of ['a', 'b', 'c']) await c.open(id);
  const leader = await c.leader();
  const lagging = [...c.net.nodes.values()].find((n) => n !== leader)!;
  c.net.down.add(lagging.nodeName);
  for (let i = 0; i < 100; i++) await leader.propose(enc.encode(`n=${i}`));
  c.net.down.delete(lagging.nodeName);
  await until('the lagging server to catch up', () => c.kv.get(lagging.nodeName)?.values.get('n') === '99');
  t.pass('caught up');
});

t.test('membership: a fourth server joins as a learner, is promoted, and another is removed', async (t) => {
  const c = cluster('members', ['a', 'b', 'c'], 20);
  t.teardown(() => c.close());
  for (const id of ['a', 'b', 'c']) await c.open(id);
  const leader = await c.leader();
  for (let i = 0; i < 30; i++) await leader.propose(enc.encode(`m=${i}`));
  const d = await c.open('d', 'join');
  await leader.changeMembership({ type: 'addLearner', node: 'd', address: { rpc: 'd:1', http: 'd:2' } });
  await until('the learner to catch up', () => c.kv.get('d')?.values.get('m') === '29');
  const conf = await leader.changeMembership({ type: 'addVoter', node: 'd' });
  t.same(conf.voters, ['a', 'b', 'c', 'd']);
  const victim = ['a', 'b', 'c'].find((id) => id !== leader.nodeName)!;
  const after = await leader.changeMembership({ type: 'remove', node: victim });
  t.notOk(after.voters.includes(victim));
  await leader.propose(enc.encode('last=1'));
  await until('d to apply the last write', () => c.kv.get('d')?.values.get('last') === '1');
  t.equal(d.addressOf(leader.nodeName)?.http, `${leader.nodeName}:2`, 'addresses are replicated');
});

t.test('a storage failure steps the leader down everywhere and settles what waits', async (t) => {
  const c = cluster('storage-failure', ['a', 'b', 'c']);
  t.teardown(() => c.close());
  for (const id of ['a', 'b', 'c']) await c.open(id);
  const leader = await c.leader();
  await leader.propose(enc.encode('before=1'));
  const heard: boolean[] = [];
  leader.onLeadershipChange((leading) => heard.push(leading));
  await until('the listener to hear the current leadership', () => heard.length > 0);
  // The disk under the leader starts failing every write (EIO).
  const log = (leader as unknown as { log: { append(): Promise<void> } }).log;
  log.append = () => Promise.reject(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }));
  await t.rejects(leader.propose(enc.encode('during=1')), { code: 'CT_CLUSTER_STORAGE' });
  t.same(heard, [true, false], 'the dispatcher and agent registry hear that it stopped leading');
  t.notOk(leader.isLeader());
  await t.rejects(leader.changeMembership({ type: 'remove', node: 'b' }), { code: 'CT_CLUSTER_STORAGE' });
  const next = await c.leader();
  t.not(next.nodeName, leader.nodeName, 'another server takes over');
  await next.propose(enc.encode('after=1'));
});

t.test('a pending membership change settles when leadership is lost, and on close', async (t) => {
  const c = cluster('conf-settles', ['a', 'b', 'c']);
  t.teardown(() => c.close());
  for (const id of ['a', 'b', 'c']) await c.open(id);
  const leader = await c.leader();
  c.net.down.add(leader.nodeName);
  const pending = leader.changeMembership({ type: 'addLearner', node: 'e', address: { rpc: 'e:1', http: 'e:2' } });
  let outcome: unknown = null;
  void pending.then(() => (outcome = 'committed'), (e: unknown) => (outcome = e));
  t.match(await until('the pending change to settle', () => outcome), { code: 'CT_CLUSTER_NOT_LEADER' }, 'rejected once the cut-off leader steps down');
  c.net.down.delete(leader.nodeName);
  const next = await c.leader();
  c.net.down.add(next.nodeName);
  const closing = next.changeMembership({ type: 'addLearner', node: 'f', address: { rpc: 'f:1', http: 'f:2' } });
  const settled = closing.then(() => null, (e: unknown) => e);
  await next.close();
  t.match(await settled, { code: 'CT_CLUSTER_CLOSED' }, 'rejected on close');
});

t.test('the driver persists before it sends: a vote is durable before it is granted, entries before they are acknowledged', async (t) => {
  const dir = join(root, 'persist-first', 'a');
  const logBytes = () => readdirSync(dir).filter((f) => f !== 'hardstate' && !f.endsWith('.tmp')).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  const seen: string[] = [];
  let bytesBefore = 0;
  const transport: RaftMessageTransport = {
    // At the moment a message leaves, look at what is on disk.
    send: (msgs) => {
      for (const m of msgs) {
        if (m.type === 'voteResp' && !m.reject) seen.push(`vote granted, durable: ${readFileSync(join(dir, 'hardstate')).includes('"vote":"b"')}`);
        if (m.type === 'appResp' && !m.reject && m.index === 4) seen.push(`entry 4 acknowledged, durable: ${logBytes() > bytesBefore}`);
      }
    },
    setPeer: () => {},
    removePeer: () => {},
  };
  const members = ['a', 'b', 'c'].map((id) => ({ id, address: { rpc: `${id}:1`, http: `${id}:2` } }));
  // Ticks far apart: this node never campaigns; b plays the candidate and then the leader.
  const node = await RaftNode.open<number>({ dir, nodeName: 'a', address: { rpc: 'a:1', http: 'a:2' }, stateMachine: new Kv(), transport, start: members, tickMs: 3_600_000 });
  t.teardown(() => node.close());
  const base = { from: 'b', to: 'a', entries: [], commit: 0, reject: false, rejectHint: 0, rejectHintTerm: 0, snapshot: null, context: '' };
  const last = { index: 3, term: 1 }; // the bootstrap entries: one ConfChange per member
  node.receive({ ...base, type: 'vote', term: 5, logTerm: last.term, index: last.index });
  await until('the vote answer', () => seen.length >= 1);
  bytesBefore = logBytes();
  node.receive({ ...base, type: 'app', term: 5, logTerm: last.term, index: last.index, commit: 3, entries: [{ term: 5, index: 4, type: 0, data: enc.encode('k=v') }] });
  await until('the append answer', () => seen.length >= 2);
  t.same(seen, ['vote granted, durable: true', 'entry 4 acknowledged, durable: true']);
});

t.test('an entry over the cap is refused with a clear error; the log goes on, and messages stay small', async (t) => {
  const net = new MemoryNetwork();
  let largestMessage = 0;
  const ids = ['a', 'b', 'c'];
  const members = ids.map((id) => ({ id, address: { rpc: `${id}:1`, http: `${id}:2` } }));
  let snapshots = 0;
  const nodes: RaftNode<number>[] = [];
  t.teardown(async () => { for (const n of nodes) await n.close(); });
  for (const id of ids) {
    const inner = net.transport(id);
    const sm = new Kv();
    const snapshot = sm.snapshot.bind(sm);
    sm.snapshot = () => { snapshots++; return snapshot(); };
    const node = await RaftNode.open<number>({
      // 16 MB to write and snapshot: ticks long enough that a loaded machine does not end the leader's term meanwhile.
      dir: join(root, 'cap', id), nodeName: id, address: { rpc: `${id}:1`, http: `${id}:2` }, stateMachine: sm, start: members, tickMs: 50,
      maxEntryBytes: 512 * 1024, snapshotBytes: 8 * 1024 * 1024,
      transport: {
        ...inner,
        send: (msgs) => {
          for (const m of msgs) largestMessage = Math.max(largestMessage, m.entries.reduce((n, e) => n + e.data.length, 0));
          inner.send(msgs);
        },
      },
    });
    net.nodes.set(id, node);
    nodes.push(node);
  }
  const leader = await until('a leader', () => nodes.find((n) => n.isLeader()));
  await t.rejects(leader.propose(enc.encode(`big=${'x'.repeat(512 * 1024)}`)), { code: 'CT_CLUSTER_ENTRY_TOO_LARGE', message: /at most 524288/ });
  // 40 entries of 400 KB proposed at once: 16 MB in all, sent in messages of about 1 MiB.
  const value = 'v'.repeat(400 * 1024);
  await Promise.all(Array.from({ length: 40 }, (_, i) => leader.propose(enc.encode(`k${i}=${value}`))));
  t.ok(largestMessage <= 1024 * 1024 + 400 * 1024, `no append message carries much more than 1 MiB of entries (largest ${largestMessage})`);
  t.ok(snapshots >= 3, `a snapshot is taken every 8 MiB of entries on each server (${snapshots} in all)`);
  await leader.propose(enc.encode('after=1'));
  await until('every server to apply the write after', () => nodes.every((n) => n.appliedIndex() === leader.appliedIndex()));
});
