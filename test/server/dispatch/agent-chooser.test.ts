// The chooser as a pure function of the agents and loads passed in (and a
// seeded random source): no registry, no clock. A planning pass counts its
// own choices as load; the loads it was given are never changed.
import t from 'tap';
import { AgentChooser } from '../../../server/dispatch/agent-chooser.js';
import type { AgentInfo } from '../../../server/dispatch/target-selection.js';
import type { Execution } from '../../../server/state/execution.js';

function agent(node: string, extra: Partial<AgentInfo> = {}): AgentInfo {
  return { node, tags: {}, executors: ['shell'], capacity: 2, load: 0, leaving: false, ...extra };
}

function seeded(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

const untagged = { tags: {}, executor: 'shell' };

function execution(id: string, nodeName: string, attempt: number, state: Execution['state'], group = 'g1'): Execution {
  return {
    id, jobName: 'j', group, attempt, trigger: 'schedule', scheduledAtMs: 0, nodeName, notBeforeMs: 0, startedAtMs: null, finishedAtMs: null,
    state, output: '', outputTruncated: false, exitCode: null, error: '',
  };
}

t.test('forFire: untagged fires fill the own agent up to its capacity, then go to the free one, counting each choice in the pass', async (t) => {
  const chooser = new AgentChooser({ selfNode: 'leader', random: seeded(7) });
  const loads = [agent('leader'), agent('other')];
  const pass = chooser.pass(loads);
  const chosen = [0, 1, 2, 3].map(() => pass.forFire(untagged)[0]);
  t.same(chosen, ['leader', 'leader', 'other', 'other']);
  t.same(pass.loads().map((a) => a.load), [2, 2], 'the pass counts its choices');
  t.same(loads.map((a) => a.load), [0, 0], 'the loads passed in are not changed');
});

t.test('forFire: the loads passed in decide; a new pass starts from the loads it is given', async (t) => {
  const chooser = new AgentChooser({ selfNode: 'leader', random: seeded(7) });
  t.same(chooser.pass([agent('leader', { load: 2 }), agent('other')]).forFire(untagged), ['other'], 'the own agent is full: the free one');
  t.same(chooser.pass([agent('leader', { load: 1 }), agent('other')]).forFire(untagged), ['leader'], 'the own agent has room');
  t.same(chooser.pass([agent('leader', { leaving: true }), agent('other', { load: 9 })]).forFire(untagged), ['other'], 'a leaving agent gets nothing, even when the other is full');
  t.same(chooser.pass([agent('leader', { executors: ['http'] })]).forFire(untagged), [''], 'none has the executor');
  const tagged = { tags: { role: 'web' }, executor: 'shell' };
  const web = [agent('w1', { tags: { role: 'web' } }), agent('w2', { tags: { role: 'web' } }), agent('d1', { tags: { role: 'db' } })];
  const pass = chooser.pass(web);
  t.same(pass.forFire(tagged), ['w1', 'w2'], 'every matching agent');
  t.same(pass.loads().map((a) => a.load), [1, 1, 0], 'each chosen node counts one');
});

t.test('forFire: the same loads and the same seed choose the same nodes', async (t) => {
  const loads = [agent('a1', { tags: { role: 'web' } }), agent('a2', { tags: { role: 'web' } }), agent('a3', { tags: { role: 'web' } })];
  const job = { tags: { role: 'web:1' }, executor: 'shell' };
  const run = (seed: number) => {
    const pass = new AgentChooser({ selfNode: 'leader', random: seeded(seed) }).pass(loads);
    return { nodes: [0, 1, 2, 3, 4, 5].map(() => pass.forFire(job)[0]), loads: pass.loads().map((a) => a.load) };
  };
  t.same(run(11), run(11));
  t.same(run(11).loads, [2, 2, 2], 'agents with room are picked first: six fires fill three agents of capacity 2 evenly');
});

t.test('forStart: the previous attempt\'s agent unless it was lost; otherwise one not already in the group', async (t) => {
  const chooser = new AgentChooser({ selfNode: 'leader', random: seeded(3) });
  const loads = [agent('a1'), agent('a2'), agent('a3')];
  const first = execution('1', 'a2', 1, 'failed');
  const retry = execution('2', '', 2, 'pending');
  t.equal(chooser.forStart(loads, untagged, retry, [first, retry]), 'a2', 'the previous attempt\'s agent');
  const lostFirst = execution('1', 'a2', 1, 'lost');
  for (let seed = 1; seed < 20; seed++) {
    const pick = new AgentChooser({ selfNode: 'leader', random: seeded(seed) }).forStart(loads, untagged, retry, [lostFirst, retry]);
    t.not(pick, 'a2', 'not the agent it was lost on');
  }
  const otherGroup = execution('9', 'a1', 1, 'failed', 'g2');
  t.equal(chooser.forStart([agent('a1')], untagged, retry, [otherGroup, lostFirst, retry]), 'a1', 'the only one qualifies');
  t.equal(chooser.forStart([], untagged, retry, [retry]), '', 'none connected');
});

t.test('noTargetReason names what is missing and the agents it saw', async (t) => {
  const chooser = new AgentChooser({ selfNode: 'leader', random: seeded(3) });
  t.match(chooser.noTargetReason([agent('a1', { tags: { role: 'db' } })], { tags: { role: 'web' }, executor: 'shell' }), /no alive agent matches the job's tags role=web; connected agents: a1 \[role=db\]/);
  t.match(chooser.noTargetReason([], untagged), /connected agents: none/);
  t.match(chooser.noTargetReason([agent('a1')], untagged), /no agent was available for the job's tags \(no tags\) when it fired/);
});
