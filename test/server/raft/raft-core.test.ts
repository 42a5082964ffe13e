// The Raft core, scenario by scenario (Raft paper sections in brackets).
import t from 'tap';
import { RaftCore } from '../../../server/raft/raft-core.js';
import { majorityIndex, voteResult } from '../../../server/raft/quorum.js';
import { EntryType, type Entry, type Message } from '../../../server/raft/types.js';
import { RaftNetwork } from './raft-network.js';

t.test('quorum arithmetic', async (t) => {
  t.equal(majorityIndex([5, 3, 1]), 3);
  t.equal(majorityIndex([5, 3, 1, 9]), 3);
  t.equal(majorityIndex([7]), 7);
  t.equal(voteResult(['a', 'b', 'c'], new Map([['a', true], ['b', true]])), 'won');
  t.equal(voteResult(['a', 'b', 'c'], new Map([['a', true], ['b', false], ['c', false]])), 'lost');
  t.equal(voteResult(['a', 'b', 'c'], new Map([['a', true], ['b', false]])), 'pending');
});

t.test('a single server elects itself and commits alone', async (t) => {
  const net = new RaftNetwork(['a']);
  net.elect('a');
  t.equal(net.get('a').core.term, 2, 'the bootstrap entries are term 1');
  t.ok(net.propose('a', 'x'));
  t.same(net.get('a').applied, ['x']);
});

t.test('three servers elect exactly one leader, and everyone learns it [5.2]', async (t) => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  const leader = net.elect();
  for (const s of net.servers.values()) {
    t.equal(s.core.leader, leader);
    t.equal(s.core.term, 2);
  }
  t.equal([...net.servers.values()].filter((s) => s.core.role === 'leader').length, 1);
});

t.test('a proposal commits on a quorum and applies everywhere in order [5.3]', async (t) => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.elect('a');
  net.cutLink('a', 'c');
  net.propose('a', 'one');
  net.propose('a', 'two');
  t.same(net.get('a').applied, ['one', 'two'], 'a and b are a quorum');
  t.same(net.get('c').applied, []);
  net.heal();
  net.tick('a');
  net.stabilize();
  t.same(net.get('c').applied, ['one', 'two'], 'c catches up');
  t.equal(net.propose('b', 'nope'), null, 'a follower does not take proposals');
});

// Without check-quorum here: its leases would keep b and c loyal to a for an
// election timeout, which this test does not tick through.
t.test('a leader cut off from the quorum cannot commit; its entries are overwritten [5.3, 5.4]', async (t) => {
  const net = new RaftNetwork(['a', 'b', 'c'], { checkQuorum: false });
  net.elect('a');
  net.propose('a', 'kept');
  net.isolate('a');
  net.propose('a', 'lost');
  t.same(net.get('a').applied, ['kept'], 'not committed without a quorum');
  net.elect('b');
  net.propose('b', 'new');
  net.heal();
  net.tick('b');
  net.stabilize();
  t.equal(net.get('a').core.role, 'follower');
  for (const s of net.servers.values()) t.same(s.applied, ['kept', 'new']);
});

t.test('check-quorum: an isolated leader steps down within two election timeouts', async (t) => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.elect('a');
  net.isolate('a');
  for (let i = 0; i < 20; i++) {
    net.tick('a');
    net.stabilize();
  }
  t.equal(net.get('a').core.role, 'follower');
});

t.test('pre-vote: a partitioned server does not raise its term or disturb the leader on return', async (t) => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.elect('a');
  net.isolate('c');
  for (let i = 0; i < 100; i++) {
    net.tick('c');
    net.stabilize();
  }
  t.equal(net.get('c').core.term, 2, 'term unchanged while cut off');
  net.heal();
  net.tick('a');
  net.stabilize();
  t.equal(net.get('a').core.role, 'leader');
  t.equal(net.get('a').core.term, 2);
  t.equal(net.get('c').core.leader, 'a');
});

t.test('a vote goes only to a log at least as up to date [5.4.1]', async (t) => {
  const net = new RaftNetwork(['a', 'b', 'c'], { checkQuorum: false });
  net.elect('a');
  net.cutLink('a', 'c');
  net.propose('a', 'x');
  net.isolate('a');
  // c lacks the committed entry: b must refuse it, so c cannot win.
  for (let i = 0; i < 60; i++) {
    net.tick('c');
    net.stabilize();
  }
  t.not(net.get('c').core.role, 'leader');
  net.elect('b');
  t.equal(net.get('b').core.term, 3);
});

t.test('fast backtracking skips a whole divergent term per round trip', async (t) => {
  const net = new RaftNetwork(['a', 'b', 'c'], { checkQuorum: false });
  net.elect('a');
  net.propose('a', 'base');
  net.isolate('a');
  for (let i = 0; i < 50; i++) net.get('a').core.propose(new TextEncoder().encode(`stale ${i}`));
  net.stabilize();
  net.elect('b');
  for (let i = 0; i < 5; i++) net.propose('b', `fresh ${i}`);
  net.heal();
  const before = net.delivered.filter((m) => m.type === 'appResp' && m.reject && m.from === 'a').length;
  net.tick('b');
  net.stabilize();
  const rejections = net.delivered.filter((m) => m.type === 'appResp' && m.reject && m.from === 'a').length - before;
  t.ok(rejections <= 2, `converged after ${rejections} rejections, not one per entry`);
  t.same(net.get('a').applied, net.get('b').applied);
  t.same(net.get('a').applied.slice(-1), ['fresh 4']);
});

t.test('a restart recovers the durable state and rejoins', async (t) => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.elect('a');
  net.propose('a', 'x');
  net.restart('c');
  t.same(net.get('c').applied, []);
  net.tick('a');
  net.stabilize();
  t.same(net.get('c').applied, ['x'], 'committed entries applied again after restart');
  net.restart('a');
  const leader = net.elect();
  net.propose(leader, 'y');
  for (const s of net.servers.values()) t.same(s.applied, ['x', 'y']);
});

t.test('a follower behind the compacted log gets a snapshot', async (t) => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.elect('a');
  net.isolate('c');
  for (let i = 0; i < 10; i++) net.propose('a', `v${i}`);
  net.compact('a');
  net.persistCompaction('a');
  net.heal();
  net.tick('a');
  net.stabilize();
  t.ok(net.delivered.some((m) => m.type === 'snap' && m.to === 'c'), 'a snapshot was sent');
  t.same(net.get('c').applied, net.get('a').applied);
  net.propose('a', 'after');
  t.same(net.get('c').applied.at(-1), 'after');
  net.restart('c');
  t.equal(net.get('c').snapshot?.meta.index, net.get('a').snapshot?.meta.index, 'the snapshot was persisted');
});

t.test('a snapshot the follower already has is answered with the commit index, not the last index', async (t) => {
  // a holds 1..5 (term 1) but only 1 is committed; 4 and 5 may not be the leader's.
  const entries: Entry[] = [1, 2, 3, 4, 5].map((index) => ({ index, term: 1, type: EntryType.Normal, data: new Uint8Array() }));
  const core = new RaftCore({ id: 'a', electionTicks: 10, heartbeatTicks: 1, random: () => 0, preVote: true, checkQuorum: true },
    { hardState: { term: 1, vote: '', commit: 1 }, snapshot: null, entries, conf: { voters: ['a', 'b'], learners: [] }, applied: 1 });
  const snap: Message = {
    type: 'snap', from: 'b', to: 'a', term: 2, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, rejectHintTerm: 0,
    snapshot: { meta: { index: 3, term: 1, conf: { voters: ['a', 'b'], learners: [] } }, data: new Uint8Array() }, context: '',
  };
  core.step(snap);
  t.equal(core.commitIndex, 3, 'commit moves to the snapshot index');
  t.equal(core.lastIndex(), 5, 'the entries after it are kept');
  const resp = core.ready().messages.filter((m) => m.type === 'appResp' && m.to === 'b');
  t.equal(resp.length, 1);
  t.equal(resp[0]?.index, 3, 'the reply claims only the commit index');
  t.equal(resp[0]?.reject, false);
});

t.test('an old snapshot (at or below the commit index) is not installed: it would roll the state back', async (t) => {
  // a restarted from its own snapshot at 10, with 11 and 12 committed after it.
  const conf = { voters: ['a', 'b'], learners: [] };
  const entries: Entry[] = [11, 12].map((index) => ({ index, term: 1, type: EntryType.Normal, data: new Uint8Array() }));
  const core = new RaftCore({ id: 'a', electionTicks: 10, heartbeatTicks: 1, random: () => 0, preVote: true, checkQuorum: true },
    { hardState: { term: 1, vote: '', commit: 12 }, snapshot: { meta: { index: 10, term: 1, conf }, data: new Uint8Array() }, entries, conf, applied: 12 });
  // A delayed snapshot from an earlier leader, at 5.
  const snap: Message = {
    type: 'snap', from: 'b', to: 'a', term: 2, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, rejectHintTerm: 0,
    snapshot: { meta: { index: 5, term: 1, conf }, data: new Uint8Array() }, context: '',
  };
  core.step(snap);
  const rd = core.ready();
  t.equal(rd.snapshot, null, 'nothing to install');
  t.equal(core.lastIndex(), 12, 'the log is kept');
  t.equal(core.commitIndex, 12);
  t.same(rd.messages.filter((m) => m.type === 'appResp').map((m) => [m.to, m.index, m.reject]), [['b', 12, false]], 'answered with the commit index');
});

t.test('membership: add a learner, let it catch up, promote it, remove a voter', async (t) => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.elect('a');
  net.propose('a', 'before');
  net.add('d', []);
  t.ok(net.get('a').core.proposeConfChange({ type: 'addLearner', node: 'd', address: 'd:1' }));
  net.stabilize();
  t.same(net.get('a').core.conf(), { voters: ['a', 'b', 'c'], learners: ['d'] });
  net.tick('a');
  net.stabilize();
  t.same(net.get('d').applied, ['before'], 'the learner receives the log');
  t.equal(net.get('d').core.role, 'follower');
  t.ok(net.get('a').core.proposeConfChange({ type: 'addVoter', node: 'd', address: 'd:1' }));
  net.stabilize();
  t.same(net.get('d').core.conf(), { voters: ['a', 'b', 'c', 'd'], learners: [] });
  // With four voters, a quorum is three: cutting two stops commits.
  net.isolate('c');
  net.isolate('d');
  net.propose('a', 'needs three');
  t.same(net.get('a').applied, ['before']);
  net.heal();
  net.tick('a');
  net.stabilize();
  t.same(net.get('a').applied, ['before', 'needs three']);
  t.ok(net.get('a').core.proposeConfChange({ type: 'remove', node: 'b', address: '' }));
  net.stabilize();
  t.same(net.get('a').core.conf().voters, ['a', 'c', 'd']);
  net.isolate('b');
  net.propose('a', 'without b');
  t.same(net.get('d').applied.at(-1), 'without b');
});

t.test('one conf change at a time', async (t) => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.elect('a');
  net.isolate('a');
  t.ok(net.get('a').core.proposeConfChange({ type: 'addLearner', node: 'd', address: '' }));
  t.equal(net.get('a').core.proposeConfChange({ type: 'addLearner', node: 'e', address: '' }), null, 'refused while the first is pending');
});

t.test('a removed leader steps down and the rest elect a new one', async (t) => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.elect('a');
  t.ok(net.get('a').core.proposeConfChange({ type: 'remove', node: 'a', address: '' }));
  net.stabilize();
  t.not(net.get('a').core.role, 'leader');
  net.servers.delete('a');
  const leader = net.elect();
  t.ok(leader === 'b' || leader === 'c');
  net.propose(leader, 'z');
  t.same(net.get('b').applied, ['z']);
});

t.test('leadership transfer to an up-to-date or lagging follower', async (t) => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.elect('a');
  net.propose('a', 'x');
  t.ok(net.get('a').core.transferLeadership('b'));
  net.stabilize();
  t.equal(net.get('b').core.role, 'leader');
  t.equal(net.get('a').core.leader, 'b');
  net.cutLink('b', 'c');
  net.propose('b', 'y');
  net.heal();
  t.ok(net.get('b').core.transferLeadership('c'), 'lagging target');
  t.equal(net.get('b').core.propose(new Uint8Array(1)), null, 'no proposals during a transfer');
  net.stabilize();
  t.equal(net.get('c').core.role, 'leader');
  t.same(net.get('c').applied, ['x', 'y']);
  t.notOk(net.get('a').core.transferLeadership('b'), 'only a leader transfers');
});

t.test('ReadIndex: served from the leader after a heartbeat quorum, and forwarded from a follower', async (t) => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.elect('a');
  net.propose('a', 'x');
  t.ok(net.get('a').core.readIndex('r1'));
  net.stabilize();
  t.same(net.get('a').readStates, [{ requestId: 'r1', index: net.get('a').core.commitIndex }]);
  t.ok(net.get('c').core.readIndex('r2'));
  net.stabilize();
  t.same(net.get('c').readStates, [{ requestId: 'r2', index: net.get('a').core.commitIndex }]);
  net.isolate('a');
  net.get('a').core.readIndex('r3');
  net.stabilize();
  t.equal(net.get('a').readStates.length, 1, 'a leader cut off cannot confirm a read');
  const fresh = new RaftNetwork(['p']);
  t.notOk(fresh.get('p').core.readIndex('r'), 'no leader known');
});

t.test('membership follows the log: a restart with a stale commit index still uses the latest configuration', async (t) => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.elect('a');
  net.add('d', []);
  t.ok(net.get('a').core.proposeConfChange({ type: 'addVoter', node: 'd', address: 'd:1' }));
  net.stabilize();
  t.ok(net.get('a').core.proposeConfChange({ type: 'remove', node: 'b', address: '' }));
  net.stabilize();
  t.same(net.get('c').core.conf().voters, ['a', 'c', 'd']);
  // The node driver persists the commit index only with a term or vote change:
  // c comes back knowing only the bootstrap entries are committed.
  const c = net.get('c');
  c.hardState = { ...c.hardState, commit: 3 };
  net.restart('c');
  t.same(net.get('c').core.conf().voters, ['a', 'c', 'd'], 'the configuration comes from the log, not from what is known committed');
});

t.test('a follower whose connection to the leader breaks campaigns within a few ticks, unless the others still hear the leader', async (t) => {
  const net = new RaftNetwork(['a', 'b', 'c']);
  net.elect('a');
  // b alone loses its connection: c still holds a's lease, so b's pre-vote fails and a stays leader.
  net.get('b').core.reportUnreachable('a');
  for (let i = 0; i < 4; i++) net.tick('b');
  net.stabilize();
  t.equal(net.get('a').core.role, 'leader');
  t.equal(net.get('a').core.term, 2, 'nobody raised the term');
  // a dies: both followers see their connections reset and elect a new leader at once.
  net.isolate('a');
  net.get('b').core.reportUnreachable('a');
  net.get('c').core.reportUnreachable('a');
  let ticks = 0;
  while (net.get('b').core.role !== 'leader' && net.get('c').core.role !== 'leader' && ticks < 10) {
    net.tick('b');
    net.tick('c');
    net.stabilize();
    ticks++;
  }
  t.ok(ticks <= 4, `a new leader after ${ticks} ticks, well within an election timeout (10-20)`);
});

t.test('invalid configuration is refused', async (t) => {
  t.throws(() => new RaftCore({ id: 'a', electionTicks: 1, heartbeatTicks: 1, random: () => 0, preVote: true, checkQuorum: true },
    { hardState: { term: 0, vote: '', commit: 0 }, snapshot: null, entries: [], conf: { voters: ['a'], learners: [] }, applied: 0 }), /heartbeatTicks/);
  t.throws(() => new RaftCore({ id: 'a', electionTicks: 10, heartbeatTicks: 1, random: () => 0, preVote: true, checkQuorum: true },
    { hardState: { term: 1, vote: '', commit: 5 }, snapshot: null, entries: [], conf: { voters: ['a'], learners: [] }, applied: 0 }), /commit index 5 is past the last index 0/);
});
