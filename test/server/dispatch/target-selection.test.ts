import t from 'tap';
import { parseTags, selectOne, selectTargets, type AgentInfo } from '../../../server/dispatch/target-selection.js';

function agent(node: string, tags: Record<string, string>, extra: Partial<AgentInfo> = {}): AgentInfo {
  return { node, tags, executors: ['shell', 'http'], capacity: 10, load: 0, leaving: false, ...extra };
}

function seeded(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

const agents = [
  agent('s1', { role: 'server' }),
  agent('a1', { role: 'web', zone: 'a' }),
  agent('a2', { role: 'web', zone: 'b' }),
  agent('a3', { role: 'web', zone: 'b' }),
  agent('d1', { role: 'db', zone: 'a' }),
];

t.test('tags are ANDed and match exactly; without a count every match runs', async (t) => {
  t.same(selectTargets(agents, { tags: { role: 'web' }, executor: 'shell', random: seeded(1) }), { nodes: ['a1', 'a2', 'a3'] });
  t.same(selectTargets(agents, { tags: { role: 'web', zone: 'b' }, executor: 'shell', random: seeded(1) }), { nodes: ['a2', 'a3'] });
  t.same(selectTargets(agents, { tags: { zone: 'a' }, executor: 'shell', random: seeded(1) }), { nodes: ['a1', 'd1'] });
  t.ok('error' in selectTargets(agents, { tags: { role: 'Web' }, executor: 'shell', random: seeded(1) }), 'case matters');
});

t.test('cardinality: N distinct matching agents at random; the lowest count wins', async (t) => {
  const seen = new Set<string>();
  for (let seed = 1; seed < 60; seed++) {
    const c = selectTargets(agents, { tags: { role: 'web:2' }, executor: 'shell', random: seeded(seed) });
    if (!('nodes' in c)) throw new Error('expected nodes');
    t.equal(c.nodes.length, 2);
    t.equal(new Set(c.nodes).size, 2, 'distinct');
    for (const n of c.nodes) { t.ok(['a1', 'a2', 'a3'].includes(n)); seen.add(n); }
  }
  t.same([...seen].sort(), ['a1', 'a2', 'a3'], 'every match gets picked sometimes');
  const c = selectTargets(agents, { tags: { role: 'web:3', zone: 'b:1' }, executor: 'shell', random: seeded(3) });
  t.ok('nodes' in c && c.nodes.length === 1 && ['a2', 'a3'].includes(c.nodes[0] ?? ''), 'lowest count, values still match');
  const more = selectTargets(agents, { tags: { role: 'web:9' }, executor: 'shell', random: seeded(3) });
  t.ok('nodes' in more && more.nodes.length === 3, 'a count above the matches runs on all of them');
  t.same(selectTargets(agents, { tags: { role: 'web:2' }, executor: 'shell', random: seeded(5) }),
    selectTargets(agents, { tags: { role: 'web:2' }, executor: 'shell', random: seeded(5) }), 'same seed, same choice');
});

t.test('a malformed or zero count is an error that says so', async (t) => {
  t.match(selectTargets(agents, { tags: { role: 'web:x' }, executor: 'shell', random: seeded(1) }), { error: /tag role="web:x".*whole number/ });
  t.match(selectTargets(agents, { tags: { role: 'web:0' }, executor: 'shell', random: seeded(1) }), { error: /0 agents/ });
  t.match(parseTags({ a: 'b:2', c: 'd' }), { values: { a: 'b', c: 'd' }, count: 2 });
});

t.test('no tags: one agent, the preferred one when it qualifies', async (t) => {
  t.same(selectTargets(agents, { tags: {}, executor: 'shell', prefer: 's1', random: seeded(1) }), { nodes: ['s1'] });
  const full = agents.map((a) => (a.node === 's1' ? { ...a, load: 10 } : a));
  const c = selectTargets(full, { tags: {}, executor: 'shell', prefer: 's1', random: seeded(1) });
  t.ok('nodes' in c && c.nodes.length === 1 && c.nodes[0] !== 's1', 'a full preferred agent is passed over');
  const noPref = selectTargets(agents, { tags: {}, executor: 'shell', random: seeded(2) });
  t.ok('nodes' in noPref && noPref.nodes.length === 1);
});

t.test('no match: an error naming the tags and the agents there are', async (t) => {
  const c = selectTargets(agents, { tags: { role: 'cache' }, executor: 'shell', random: seeded(1) });
  t.match(c, { error: /no alive agent matches the job's tags role=cache; connected agents: s1 \[role=server\]; a1 \[role=web,zone=a\]/ });
  t.match(selectTargets([], { tags: {}, executor: 'shell', random: seeded(1) }), { error: /connected agents: none/ });
  t.match(selectTargets(agents, { tags: { role: 'db' }, executor: 'kafka', random: seeded(1) }), { error: /has the executor "kafka"/ });
});

t.test('leaving agents get nothing; agents with free capacity first', async (t) => {
  const list = [agent('x', { r: '1' }, { leaving: true }), agent('y', { r: '1' }, { load: 10 }), agent('z', { r: '1' })];
  t.same(selectTargets(list, { tags: { r: '1' }, executor: 'shell', random: seeded(1) }), { nodes: ['y', 'z'] });
  for (let seed = 1; seed < 20; seed++) {
    t.same(selectTargets(list, { tags: { r: '1:1' }, executor: 'shell', random: seeded(seed) }), { nodes: ['z'] });
  }
});

t.test('one agent for a retry: the previous one if it qualifies, else one not already in the group', async (t) => {
  t.same(selectOne(agents, { tags: { role: 'web' }, executor: 'shell', prefer: 'a2', random: seeded(1) }), { nodes: ['a2'] });
  for (let seed = 1; seed < 20; seed++) {
    t.same(selectOne(agents, { tags: { role: 'web' }, executor: 'shell', prefer: 'gone', avoid: ['a1', 'a2'], random: seeded(seed) }), { nodes: ['a3'] });
  }
  const c = selectOne(agents, { tags: { zone: 'a' }, executor: 'shell', avoid: ['a1', 'd1'], random: seeded(1) });
  t.ok('nodes' in c && c.nodes.length === 1, 'every match avoided: still one of them');
  t.match(selectOne(agents, { tags: { zone: 'c' }, executor: 'shell', random: seeded(1) }), { error: /no alive agent/ });
});
