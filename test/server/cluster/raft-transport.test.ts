// The gRPC Raft transport between real servers on loopback: order and
// fidelity of messages, snapshots in chunks, unreachable peers, blocking,
// misaddressed messages, and a link cut by the fault proxy.
import t from 'tap';
import { RaftTransport, type RaftTransportOptions } from '../../../server/cluster/raft-transport.js';
import { snapshotChunkBytes } from '../../../server/cluster/raft-peer.js';
import { EntryType, type Entry, type Message, type Snapshot } from '../../../server/raft/types.js';
import { startFaultProxy } from '../../support/fault-proxy.js';
import { until } from '../../support/light-process.js';
import { freePort } from '../../support/free-port.js';

interface Node {
  readonly transport: RaftTransport;
  readonly address: string;
  readonly received: Message[];
  readonly unreachable: string[];
  readonly snapshots: { peer: string; ok: boolean }[];
}

async function node(
  t: { teardown(fn: () => unknown): void },
  self: string,
  listen = '127.0.0.1:0',
  extra: Partial<Pick<RaftTransportOptions, 'connectTimeoutMs' | 'maxBackoffMs' | 'maxQueue' | 'maxQueueBytes'>> = {},
): Promise<Node> {
  const received: Message[] = [];
  const unreachable: string[] = [];
  const snapshots: { peer: string; ok: boolean }[] = [];
  const transport = new RaftTransport({
    self,
    listen,
    onMessage: (m) => received.push(m),
    onUnreachable: (peer) => unreachable.push(peer),
    onSnapshotStatus: (peer, ok) => snapshots.push({ peer, ok }),
    ...extra,
  });
  const address = await transport.start();
  t.teardown(() => transport.close());
  return { transport, address, received, unreachable, snapshots };
}

/** Resolves once `probe` is true; fails after `ms`. */
async function waitFor(what: string, probe: () => boolean, ms = 10_000): Promise<void> {
  await until(what, async () => (probe() ? true : undefined), ms);
}

const message = (over: Partial<Message> & Pick<Message, 'from' | 'to'>): Message => ({
  type: 'app',
  term: 0,
  logTerm: 0,
  index: 0,
  entries: [],
  commit: 0,
  reject: false,
  rejectHint: 0,
  rejectHintTerm: 0,
  snapshot: null,
  context: '',
  ...over,
});

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 0xff;
  return b;
}

/** A message as plain data, so Buffers and Uint8Arrays compare by content. */
function plain(m: Message): unknown {
  const entry = (e: Entry) => ({ ...e, data: Buffer.from(e.data).toString('base64') });
  return {
    ...m,
    entries: m.entries.map(entry),
    snapshot: m.snapshot === null ? null : { meta: m.snapshot.meta, data: Buffer.from(m.snapshot.data).toString('base64') },
  };
}


t.test('messages arrive in order with every field intact', async (t) => {
  const a = await node(t, 'a');
  const b = await node(t, 'b');
  a.transport.setPeer('b', b.address);
  b.transport.setPeer('a', a.address); // b takes messages only from the peers it knows
  const big: Entry = { term: 2 ** 40, index: 2 ** 48, type: EntryType.Normal, data: bytes(3 * 1024 * 1024, 1) };
  const sent: Message[] = [
    message({ from: 'a', to: 'b', type: 'app', term: 3, logTerm: 2, index: 10, commit: 9, entries: [
      { term: 2, index: 11, type: EntryType.Normal, data: bytes(5, 2) },
      { term: 3, index: 12, type: EntryType.ConfChange, data: bytes(300, 3) },
      { term: 3, index: 13, type: EntryType.Normal, data: new Uint8Array(0) },
    ] }),
    message({ from: 'a', to: 'b', type: 'appResp', term: 7, index: 99, reject: true, rejectHint: 42, rejectHintTerm: 6 }),
    message({ from: 'a', to: 'b', type: 'app', term: 3, entries: [big] }),
    message({ from: 'a', to: 'b', type: 'heartbeat', term: 3, commit: 13, context: 'read-1' }),
    message({ from: 'a', to: 'b', type: 'heartbeatResp', term: 3, context: 'read-1' }),
    message({ from: 'a', to: 'b', type: 'vote', term: 4, logTerm: 3, index: 13, context: 'transfer' }),
    message({ from: 'a', to: 'b', type: 'voteResp', term: 4, reject: true }),
    message({ from: 'a', to: 'b', type: 'preVote', term: 5, logTerm: 3, index: 13 }),
    message({ from: 'a', to: 'b', type: 'preVoteResp', term: 5 }),
    message({ from: 'a', to: 'b', type: 'timeoutNow', term: 5 }),
    message({ from: 'a', to: 'b', type: 'readIndex', term: 5, context: 'r2' }),
    message({ from: 'a', to: 'b', type: 'readIndexResp', term: 5, index: 77, context: 'r2' }),
  ];
  const many = Array.from({ length: 500 }, (_, i) => message({ from: 'a', to: 'b', type: 'heartbeat', term: 9, commit: i }));
  a.transport.send(sent);
  a.transport.send(many);
  await waitFor('all messages at b', () => b.received.length >= sent.length + many.length);
  t.equal(b.received.length, sent.length + many.length, 'nothing extra');
  t.same(b.received.slice(0, sent.length).map(plain), sent.map(plain), 'every field intact');
  t.same(b.received.slice(sent.length).map((m) => m.commit), many.map((m) => m.commit), 'in order');
  t.same(a.unreachable, []);

  // And back the other way, over b's own connection to a.
  b.transport.send([message({ from: 'b', to: 'a', type: 'appResp', term: 3, index: 13 })]);
  await waitFor('the answer at a', () => a.received.length === 1);
  t.equal(a.received[0]?.index, 13);
});

t.test('a 5 MB snapshot arrives whole, in several chunks, and reports ok', async (t) => {
  const a = await node(t, 'a');
  const b = await node(t, 'b');
  a.transport.setPeer('b', b.address);
  b.transport.setPeer('a', a.address);
  const size = 5 * 1024 * 1024 + 123;
  t.ok(size / snapshotChunkBytes > 5, 'several chunks');
  const snapshot: Snapshot = { meta: { index: 1000, term: 7, conf: { voters: ['a', 'b', 'c'], learners: ['d'] } }, data: bytes(size, 9) };
  const snap = message({ from: 'a', to: 'b', type: 'snap', term: 7, snapshot });
  // Ordinary messages keep flowing on their own stream alongside.
  a.transport.send([snap, message({ from: 'a', to: 'b', type: 'heartbeat', term: 7 })]);
  await waitFor('snapshot status', () => a.snapshots.length === 1);
  t.same(a.snapshots, [{ peer: 'b', ok: true }]);
  const got = b.received.find((m) => m.type === 'snap');
  t.ok(got, 'snap delivered');
  t.same(got && plain(got), plain(snap), 'header, meta and data intact');
  await waitFor('heartbeat', () => b.received.some((m) => m.type === 'heartbeat'));
  t.equal(b.received.length, 2);
});

t.test('a snapshot to a peer that is down reports failure', async (t) => {
  const a = await node(t, 'a');
  a.transport.setPeer('b', `127.0.0.1:${await freePort()}`);
  a.transport.send([message({ from: 'a', to: 'b', type: 'snap', snapshot: { meta: { index: 1, term: 1, conf: { voters: ['a'], learners: [] } }, data: bytes(10, 1) } })]);
  await waitFor('snapshot status', () => a.snapshots.length === 1);
  t.same(a.snapshots, [{ peer: 'b', ok: false }]);
});

t.test('a peer that is down is reported unreachable once; messages flow once it is up', async (t) => {
  const a = await node(t, 'a');
  const port = await freePort();
  a.transport.setPeer('b', `127.0.0.1:${port}`);
  a.transport.send([message({ from: 'a', to: 'b', term: 1 })]);
  await waitFor('unreachable', () => a.unreachable.length > 0);
  t.same(a.unreachable, ['b']);
  for (let i = 0; i < 20; i++) a.transport.send([message({ from: 'a', to: 'b', term: 1 })]);
  t.doesNotThrow(() => a.transport.send([message({ from: 'a', to: 'nobody', term: 1 })]), 'unknown peer: dropped, no throw');

  const b = await node(t, 'b', `127.0.0.1:${port}`);
  b.transport.setPeer('a', a.address);
  await until('a message to get through', async () => {
    a.transport.send([message({ from: 'a', to: 'b', term: 2 })]);
    return b.received.length > 0 ? true : undefined;
  });
  t.ok(b.received.every((m) => m.from === 'a'));
  t.same(a.unreachable, ['b'], 'one report for the whole episode');
});

t.test('setBlocked drops both directions, and unblocking lets them through', async (t) => {
  const a = await node(t, 'a');
  const b = await node(t, 'b');
  a.transport.setPeer('b', b.address);
  b.transport.setPeer('a', a.address);
  a.transport.send([message({ from: 'a', to: 'b', term: 1 })]);
  b.transport.send([message({ from: 'b', to: 'a', term: 1 })]);
  await waitFor('both connected', () => a.received.length === 1 && b.received.length === 1);

  a.transport.setBlocked('b', true);
  a.transport.send([message({ from: 'a', to: 'b', term: 2 })]);
  a.transport.send([message({ from: 'a', to: 'b', type: 'snap', term: 2, snapshot: { meta: { index: 5, term: 2, conf: { voters: ['a', 'b'], learners: [] } }, data: bytes(10, 2) } })]);
  // b -> a passes b's side, reaches a, and a drops it.
  b.transport.send([message({ from: 'b', to: 'a', term: 2 }), message({ from: 'b', to: 'a', term: 3 })]);
  await waitFor('blocked send reported', () => a.unreachable.length === 1 && a.snapshots.length === 1);
  await waitFor('b\'s messages dropped at a', () => a.transport.stats().droppedIn === 2);
  t.equal(a.transport.stats().droppedOut, 2, 'the message and the snapshot to b');
  t.same(a.unreachable, ['b']);
  t.same(a.snapshots, [{ peer: 'b', ok: false }]);

  a.transport.setBlocked('b', false);
  b.transport.send([message({ from: 'b', to: 'a', term: 4 })]);
  a.transport.send([message({ from: 'a', to: 'b', term: 4 })]);
  await waitFor('unblocked traffic', () => a.received.some((m) => m.term === 4) && b.received.some((m) => m.term === 4));
  t.same(a.received.map((m) => m.term), [1, 4], 'what b sent while blocked was dropped at a');
  t.same(b.received.map((m) => m.term), [1, 4], 'what a sent while blocked was dropped at a');
});

t.test('messages addressed to another server are dropped', async (t) => {
  const logs: string[] = [];
  const a = await node(t, 'a');
  const received: Message[] = [];
  const b = new RaftTransport({ self: 'b', listen: '127.0.0.1:0', onMessage: (m) => received.push(m), log: (l) => logs.push(l) });
  const bAddress = await b.start();
  t.teardown(() => b.close());
  b.setPeer('a', a.address);
  // a thinks 'c' lives at b's address.
  a.transport.setPeer('c', bAddress);
  a.transport.setPeer('b', bAddress);
  a.transport.send([message({ from: 'a', to: 'c', term: 1 }), message({ from: 'a', to: 'b', term: 2 })]);
  a.transport.send([message({ from: 'a', to: 'c', type: 'snap', term: 1, snapshot: { meta: { index: 1, term: 1, conf: { voters: ['c'], learners: [] } }, data: bytes(10, 3) } })]);
  await waitFor('the message to b and the snapshot status', () => received.length === 1 && a.snapshots.length === 1);
  t.same(received.map((m) => m.term), [2]);
  t.same(a.snapshots, [{ peer: 'c', ok: false }], 'a snapshot for someone else is refused');
  t.ok(logs.some((l) => l.includes('addressed to c')), 'logged');
});

t.test('messages and snapshots from a server that is not a peer are dropped', async (t) => {
  const logs: string[] = [];
  const a = await node(t, 'a');
  const received: Message[] = [];
  const b = new RaftTransport({ self: 'b', listen: '127.0.0.1:0', onMessage: (m) => received.push(m), log: (l) => logs.push(l) });
  const bAddress = await b.start();
  t.teardown(() => b.close());
  a.transport.setPeer('b', bAddress);
  a.transport.send([message({ from: 'a', to: 'b', term: 1 })]);
  a.transport.send([message({ from: 'a', to: 'b', type: 'snap', term: 1, snapshot: { meta: { index: 1, term: 1, conf: { voters: ['a'], learners: [] } }, data: bytes(10, 3) } })]);
  await waitFor('the snapshot refused', () => a.snapshots.length === 1);
  await waitFor('the message dropped', () => b.stats().droppedIn === 2);
  t.same(a.snapshots, [{ peer: 'b', ok: false }]);
  t.same(received, [], 'nothing delivered');
  t.ok(logs.some((l) => l.includes('from "a", which is not a member')), 'logged');
  // Once b knows a, the same messages get through.
  b.setPeer('a', a.address);
  a.transport.send([message({ from: 'a', to: 'b', term: 2 })]);
  await waitFor('the message delivered', () => received.length === 1);
  t.equal(received[0]?.term, 2);
});

t.test('a link cut by the fault proxy is reported and heals', async (t) => {
  const b = await node(t, 'b');
  const proxy = await startFaultProxy(b.address);
  t.teardown(() => proxy.close());
  const a = await node(t, 'a', '127.0.0.1:0', { connectTimeoutMs: 500, maxBackoffMs: 200 });
  a.transport.setPeer('b', proxy.address);
  b.transport.setPeer('a', a.address);
  a.transport.send([message({ from: 'a', to: 'b', term: 1 })]);
  await waitFor('first message', () => b.received.length === 1);

  proxy.block();
  await until('the cut to be noticed', async () => {
    a.transport.send([message({ from: 'a', to: 'b', term: 2 })]);
    return a.unreachable.length > 0 ? true : undefined;
  });
  t.same(a.unreachable, ['b']);
  const before = b.received.length;

  proxy.unblock();
  await until('messages through the healed link', async () => {
    a.transport.send([message({ from: 'a', to: 'b', term: 3 })]);
    return b.received.some((m) => m.term === 3) ? true : undefined;
  });
  t.ok(b.received.length > before);
  t.same(a.unreachable, ['b'], 'one report for the episode');
});

t.test('a black-holed peer counts as down after the connect timeout', async (t) => {
  const b = await node(t, 'b');
  const proxy = await startFaultProxy(b.address, { mode: 'blackhole' });
  t.teardown(() => proxy.close());
  proxy.block();
  const a = await node(t, 'a', '127.0.0.1:0', { connectTimeoutMs: 300, maxBackoffMs: 200 });
  a.transport.setPeer('b', proxy.address);
  b.transport.setPeer('a', a.address);
  a.transport.send([message({ from: 'a', to: 'b', term: 1 })]);
  await waitFor('unreachable', () => a.unreachable.length > 0);
  t.same(a.unreachable, ['b']);
  proxy.unblock();
  await until('messages after the black hole ends', async () => {
    a.transport.send([message({ from: 'a', to: 'b', term: 2 })]);
    return b.received.length > 0 ? true : undefined;
  });
  t.pass('recovered');
});

t.test('a stuck peer does not hold up the others, and its queue is bounded', async (t) => {
  const stuck = await node(t, 'stuck');
  const hole = await startFaultProxy(stuck.address, { mode: 'blackhole' });
  t.teardown(() => hole.close());
  hole.block();
  const c = await node(t, 'c');
  const a = await node(t, 'a', '127.0.0.1:0', { connectTimeoutMs: 60_000, maxQueue: 1000 });
  a.transport.setPeer('stuck', hole.address);
  a.transport.setPeer('c', c.address);
  c.transport.setPeer('a', a.address);
  const n = 10_000;
  for (let i = 0; i < n; i++) {
    a.transport.send([message({ from: 'a', to: 'stuck', term: 1, index: i })]);
    if (i % 20 === 0) a.transport.send([message({ from: 'a', to: 'c', term: 1, index: i })]);
  }
  await waitFor('everything at c', () => c.received.length === n / 20);
  t.same(c.received.map((m) => m.index), Array.from({ length: n / 20 }, (_, i) => i * 20), 'c got all, in order');
  const { droppedOut } = a.transport.stats();
  t.ok(droppedOut >= n - 1100 && droppedOut <= n - 1000, `dropped ${droppedOut} of ${n} for the stuck peer`);
  t.same(a.unreachable, [], 'still connecting: not (yet) reported');
});

t.test('the queue for a stuck peer is bounded in bytes too', async (t) => {
  const stuck = await node(t, 'stuck');
  const hole = await startFaultProxy(stuck.address, { mode: 'blackhole' });
  t.teardown(() => hole.close());
  hole.block();
  const a = await node(t, 'a', '127.0.0.1:0', { connectTimeoutMs: 60_000, maxQueue: 100_000, maxQueueBytes: 1024 * 1024 });
  a.transport.setPeer('stuck', hole.address);
  const data = new Uint8Array(100 * 1024);
  const n = 200;
  for (let i = 0; i < n; i++) {
    a.transport.send([message({ from: 'a', to: 'stuck', term: 1, index: i, entries: [{ term: 1, index: i + 1, type: EntryType.Normal, data }] })]);
  }
  const { droppedOut } = a.transport.stats();
  // 20 MB were sent; at most 1 MiB (10 messages of 100 KiB) waits, plus what the stream took before it stalled.
  t.ok(droppedOut >= n - 10 - 40, `dropped ${droppedOut} of ${n} messages of 100 KiB with a queue of 1 MiB`);
});

t.test('addService after start is a typed error', async (t) => {
  const a = await node(t, 'a');
  t.throws(() => a.transport.addService({}, {}), { code: 'CT_TRANSPORT_MISUSE' });
  const other = new RaftTransport({ self: 'x', listen: 'nonsense', onMessage: () => {} });
  await t.rejects(other.start(), { code: 'CT_TRANSPORT_BIND' });
  await other.close();
});
