// An agent across a leader change: three real servers and one real agent
// that joined through the leader only. kill -9 of the leader while the
// agent runs an execution: the agent finds the new leader by itself (it
// learned every server's address when it registered), the new leader
// reclaims the execution and commits its result once, and new work reaches
// the agent. Then `forbid` across a leader change: no second run while the
// first still runs on the agent, and the fires meanwhile recorded as skipped.
// Each test brings the cluster back to three servers and starts the agent if
// it is not running, so either runs alone (--grep); the runs are held open
// by a gate file the test creates, not by a sleep of their own.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { call, executions, tempDir, until, type ExecutionJson } from '../support/light-process.js';
import { agreedLeader, serverSpecs, startServerProcess, type ServerProcess } from '../support/cluster-processes.js';
import { startAgentProcess, type AgentProcess } from '../support/agent-process.js';

const root = tempDir('ct-agents-failover-');
const specs = await serverSpecs(root.path, ['s1', 's2', 's3']);
const servers = new Map<string, ServerProcess>();
for (const s of await Promise.all(specs.map((s) => startServerProcess(s, ['--agent-timeout', '5s'])))) servers.set(s.name, s);
let agent: AgentProcess | null = null;
t.teardown(async () => {
  await agent?.kill9().catch(() => {});
  for (const s of servers.values()) await s.kill9().catch(() => {});
  root.remove();
});
const live = () => [...servers.values()].filter((s) => s.child.exitCode === null && s.child.signalCode === null);

/** Three live servers (restarting any a test killed) and agent a1 registered with their leader. */
async function ready(): Promise<{ leader: ServerProcess; agent: AgentProcess }> {
  for (const spec of specs) {
    const s = servers.get(spec.name);
    if (s && s.child.exitCode === null && s.child.signalCode === null) continue;
    servers.set(spec.name, await startServerProcess(spec, ['--agent-timeout', '5s']));
  }
  const leader = await agreedLeader(live());
  agent ??= await startAgentProcess('a1', [leader.rpcAddr], { zone: 'a' });
  await until('a1 on the leader', async () => {
    const r = await call(leader.url, 'GET', '/v1/agents');
    return r.status === 200 && (r.body as { name: string }[]).some((a) => a.name === 'a1') ? true : undefined;
  }, 30_000);
  return { leader, agent };
}

/** A shell command that prints "start", waits for `gate` to exist, then prints "end". */
function gated(gate: string): string {
  return `echo start; while [ ! -f ${gate} ]; do sleep 0.05; done; echo end`;
}

async function finished(url: string, name: string, count: number): Promise<ExecutionJson[]> {
  return until(`${count} finished executions of ${name}`, async () => {
    const done = (await executions(url, name)).filter((e) => e.finished_at !== null);
    return done.length >= count ? done : undefined;
  }, 30_000);
}

t.test('kill -9 of the leader mid-run: the agent moves to the new leader, which commits the result once', async (t) => {
  const { leader, agent: a } = await ready();
  const gate = join(root.path, 'across.gate');
  const job = { name: 'across', schedule: '@manually', executor: 'shell', tags: { zone: 'a' }, executor_config: { shell: 'true', command: gated(gate) } };
  t.equal((await call(leader.url, 'POST', '/v1/jobs', job)).status, 201);
  t.ok((await call(leader.url, 'POST', '/v1/jobs/across/run')).status < 300);
  const running = await until('it to run on a1', async () => (await executions(leader.url, 'across')).find((e) => e.state === 'running' && e.output.startsWith('start')));
  t.equal(running.node_name, 'a1');
  const registered = (a.log().match(/registered with the leader/g) ?? []).length;
  await leader.kill9();
  const next = await agreedLeader(live());
  t.not(next.name, leader.name, 'a new leader');
  await until('a1 to register with the new leader', async () => ((a.log().match(/registered with the leader/g) ?? []).length > registered ? true : undefined), 30_000);
  t.match(a.log(), new RegExp(`registered with the leader ${next.name}`));
  t.equal((await executions(next.url, 'across')).find((e) => e.id === running.id)?.finished_at, null, 'still running under the new leader');
  writeFileSync(gate, '');
  const [done] = await finished(next.url, 'across', 1);
  t.equal(done?.id, running.id);
  t.equal(done?.state, 'succeeded', 'the new leader reclaimed it and committed its result');
  t.match(done?.output, /start\n.*end\n$/s);
  t.equal((await executions(next.url, 'across')).length, 1, 'it ran once');
  t.ok((await call(next.url, 'POST', '/v1/jobs/across/run')).status < 300);
  const after = await finished(next.url, 'across', 2);
  t.ok(after.every((e) => e.node_name === 'a1' && e.state === 'succeeded'), 'new work reaches a1 through the new leader');
  // Any server answers for the agents: a follower forwards to the leader.
  const follower = live().find((s) => s.name !== next.name);
  if (!follower) throw new Error('no follower');
  const agents = await call(follower.url, 'GET', '/v1/agents');
  t.equal(agents.status, 200);
  t.ok((agents.body as { name: string }[]).some((a) => a.name === 'a1'), 'a follower lists the agents the leader has');
  const members = (await call(follower.url, 'GET', '/v1/members')).body as { Name: string; Tags: Record<string, string> }[];
  t.match(members.find((m) => m.Name === 'a1'), { Tags: { zone: 'a', server: 'false' } }, 'Dkron\'s /v1/members lists agents with their tags');
  t.equal(members.filter((m) => m.Tags['server'] === 'true').length, 3, 'and the servers');
});

t.test('forbid holds across a leader change: no second run starts while the first still runs on the agent', async (t) => {
  // A second kill needs three servers to leave two: ready() brings back any the last test killed.
  const { leader } = await ready();
  const gate = join(root.path, 'single.gate');
  const job = {
    name: 'single', schedule: '@every 1s', concurrency: 'forbid', executor: 'shell', tags: { zone: 'a' },
    executor_config: { shell: 'true', command: gated(gate) },
  };
  t.equal((await call(leader.url, 'POST', '/v1/jobs', job)).status, 201);
  const first = await until('the first run to start on a1', async () => (await executions(leader.url, 'single')).find((e) => e.state === 'running'), 30_000);
  t.equal(first.node_name, 'a1');
  const manual = await call(leader.url, 'POST', '/v1/jobs/single/run');
  t.equal(manual.status, 409, 'a manual run is refused while it runs');
  await leader.kill9();
  const next = await agreedLeader(live());
  t.not(next.name, leader.name);
  // The new leader's fires meanwhile meet the run still going: skipped, not started.
  const electedAt = Date.now();
  await until('a fire skipped by the new leader while the first run goes on', async () => {
    const r = await call(next.url, 'GET', '/v1/jobs/single/skipped');
    const skips = r.status === 200 ? r.body as { reason: string; recorded_at: string }[] : [];
    return skips.some((x) => x.reason === 'forbid_running' && Date.parse(x.recorded_at) >= electedAt) ? true : undefined;
  }, 30_000);
  writeFileSync(gate, '');
  const [done] = await finished(next.url, 'single', 1);
  t.equal(done?.id, first.id, 'the first run finished under the new leader');
  t.equal(done?.state, 'succeeded');
  await t.resolves(call(next.url, 'POST', '/v1/jobs/single/toggle'), 'disable it');
  const list = await executions(next.url, 'single');
  const startedBeforeFirstEnded = list.filter((e) => e.id !== first.id && e.started_at !== null && done?.finished_at && Date.parse(e.started_at) < Date.parse(done.finished_at));
  t.same(startedBeforeFirstEnded.map((e) => e.id), [], 'no other run started while the first one ran');
  const skips = (await call(next.url, 'GET', '/v1/jobs/single/skipped')).body as { reason: string }[];
  t.ok(skips.some((s) => s.reason === 'forbid_running'), 'the fires meanwhile are recorded as skipped (forbid_running)');
});
