// Agents end to end: a real one-server cluster (`clocktower agent --server
// --bootstrap-expect 1`, itself an agent tagged role=server) and two real
// agent processes (`clocktower agent --join`) with different tags.
// Targeting by tags and cardinality, no matching agent, the stop endpoint
// reaching an agent, kill -9 of an agent mid-run (lost, then retried on the
// other one), a server restart the agents survive (a result finished while
// the server was down is committed), and a graceful agent stop.
// Runs that must still be going at some step are held open by a gate file
// the test creates, not by a sleep of their own.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { call, executions, tempDir, until, type ExecutionJson } from '../support/light-process.js';
import { serverSpecs, startServerProcess, type ServerProcess } from '../support/cluster-processes.js';
import { startAgentProcess, type AgentProcess } from '../support/agent-process.js';

const agentTimeout = ['--agent-timeout', '4s'];
const root = tempDir('ct-agents-');
const [spec] = await serverSpecs(root.path, ['s1']);
if (!spec) throw new Error('no server spec');
let server: ServerProcess = await startServerProcess(spec, ['--tag', 'role=server', ...agentTimeout]);
const agents = new Map<string, AgentProcess>();
/** Processes left behind by an agent killed with -9 (its executions' process groups). */
const orphanPids = new Set<number>();

async function startAgent(name: string, tags: Record<string, string>, extra: string[] = []): Promise<AgentProcess> {
  const a = await startAgentProcess(name, [spec!.rpcAddr], tags, extra);
  agents.set(name, a);
  return a;
}

t.teardown(async () => {
  for (const a of agents.values()) await a.kill9().catch(() => {});
  await server.kill9().catch(() => {});
  for (const pid of orphanPids) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  root.remove();
});

interface AgentJson { name: string; tags: Record<string, string>; assigned: number }

async function agentNames(): Promise<string[]> {
  const a = await call(server.url, 'GET', '/v1/agents');
  return a.status === 200 ? (a.body as AgentJson[]).map((x) => x.name) : [];
}

async function waitAgents(names: string[]): Promise<void> {
  await until(`agents ${names.join(', ')}`, async () => {
    const have = await agentNames();
    return names.every((n) => have.includes(n)) ? true : undefined;
  });
}

async function createJob(job: Record<string, unknown>): Promise<void> {
  const r = await call(server.url, 'POST', '/v1/jobs', { schedule: '@manually', executor: 'shell', ...job });
  if (r.status !== 201) throw new Error(`create ${String(job['name'])}: ${r.status} ${r.text}`);
}

async function runJob(name: string): Promise<void> {
  const r = await call(server.url, 'POST', `/v1/jobs/${name}/run`);
  if (r.status >= 300) throw new Error(`run ${name}: ${r.status} ${r.text}`);
}

async function finished(name: string, count: number, ms = 20_000): Promise<ExecutionJson[]> {
  return until(`${count} finished executions of ${name}`, async () => {
    const list = await executions(server.url, name);
    const done = list.filter((e) => e.finished_at !== null);
    return done.length >= count ? done : undefined;
  }, ms);
}

async function runningOn(name: string): Promise<ExecutionJson> {
  return until(`a running execution of ${name} with its pid`, async () => {
    const list = await executions(server.url, name);
    return list.find((e) => e.state === 'running' && /pid=\d+/.test(e.output));
  });
}

/** A shell command that prints its pid, waits for `gate` to exist, then prints `last`. */
function gated(gate: string, last: string): string {
  return `echo pid=$$; while [ ! -f ${gate} ]; do sleep 0.05; done; echo ${last}`;
}

function pidOf(e: ExecutionJson): number {
  return Number(/pid=(\d+)/.exec(e.output)?.[1]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

await startAgent('a1', { role: 'web', zone: 'a' });
await startAgent('a2', { role: 'web', zone: 'b' });
await waitAgents(['s1', 'a1', 'a2']);

t.test('/v1/members keeps each agent\'s own role tag', async (t) => {
  const members = (await call(server.url, 'GET', '/v1/members')).body as { Name: string; Tags: Record<string, string> }[];
  const tags = (name: string) => members.find((m) => m.Name === name)?.Tags;
  t.match(tags('a1'), { role: 'web', zone: 'a', server: 'false' });
  t.match(tags('a2'), { role: 'web', zone: 'b' });
  t.match(tags('s1'), { role: 'server', server: 'true' });
});

t.test('a job tagged for one agent runs only there; untagged runs once, on the leader', async (t) => {
  await createJob({ name: 'zone-a', tags: { zone: 'a' }, executor_config: { command: 'echo ran here' } });
  for (let i = 0; i < 3; i++) await runJob('zone-a');
  const done = await finished('zone-a', 3);
  t.same(done.map((e) => e.node_name), ['a1', 'a1', 'a1'], 'every run on a1');
  t.ok(done.every((e) => e.state === 'succeeded' && e.output === 'ran here\n'), 'succeeded with its output');
  await createJob({ name: 'untagged', executor_config: { command: 'true' } });
  await runJob('untagged');
  const [u] = await finished('untagged', 1);
  t.equal(u?.node_name, 's1', 'untagged: one execution, on the leader\'s own agent');
  t.equal((await executions(server.url, 'untagged')).length, 1, 'and only one');
  // An executor's error code crosses from the agent process in its result.
  await createJob({ name: 'zone-a-timeout', tags: { zone: 'a' }, executor_config: { command: 'sleep 30', timeout: '200ms' } });
  await runJob('zone-a-timeout');
  const [slow] = await finished('zone-a-timeout', 1);
  t.match(slow, { state: 'failed', node_name: 'a1', error: /timed out after 200ms/, error_code: 'CT_EXEC_TIMEOUT' }, "the agent's result carries the executor's code");
});

t.test('cardinality: role=web:2 runs on both web agents, once each', async (t) => {
  await createJob({ name: 'two-web', tags: { role: 'web:2' }, executor_config: { command: 'echo hi' } });
  await runJob('two-web');
  const done = await finished('two-web', 2);
  t.same(done.map((e) => e.node_name).sort(), ['a1', 'a2']);
  t.equal(new Set(done.map((e) => e.group)).size, 1, 'one fire, one group');
  t.ok(done.every((e) => e.state === 'succeeded'));
  await createJob({ name: 'one-web', tags: { role: 'web:1' }, executor_config: { command: 'true' } });
  await runJob('one-web');
  const [one] = await finished('one-web', 1);
  t.ok(one && ['a1', 'a2'].includes(one.node_name), 'role=web:1 runs on one of them');
});

t.test('no matching agent: a failed execution that says so', async (t) => {
  await createJob({ name: 'for-db', tags: { role: 'db' }, executor_config: { command: 'true' } });
  await runJob('for-db');
  const [e] = await finished('for-db', 1);
  t.equal(e?.state, 'failed');
  t.equal(e?.node_name, '');
  t.equal(e?.error_code, 'CT_EXEC_NO_AGENT');
  t.match(e?.error, /no alive agent matches the job's tags role=db; connected agents: .*a1 \[role=web,zone=a\]/);
  const badCount = await call(server.url, 'POST', '/v1/jobs', { name: 'bad-count', schedule: '@manually', executor: 'shell', tags: { role: 'web:two' }, executor_config: { command: 'true' } });
  t.equal(badCount.status, 400, 'a count that cannot work is refused when the job is saved');
  t.match(badCount.body, { error: { field: 'tags', message: /tag role="web:two": the count after ":" must be a whole number/ } });
});

t.test('the stop endpoint reaches the agent, kills the process tree there, and records it stopped', async (t) => {
  await createJob({ name: 'long-b', tags: { zone: 'b' }, executor_config: { shell: 'true', command: 'echo pid=$$; exec sleep 30' } });
  await runJob('long-b');
  const e = await runningOn('long-b');
  t.equal(e.node_name, 'a2');
  const pid = pidOf(e);
  t.ok(alive(pid), 'its process runs on the agent');
  const busy = await call(server.url, 'GET', '/v1/busy');
  t.ok((busy.body as ExecutionJson[]).some((b) => b.id === e.id && b.node_name === 'a2'), '/v1/busy shows it, with its node');
  const stop = await call(server.url, 'POST', `/v1/jobs/long-b/executions/${e.id}/stop`);
  t.equal(stop.status, 202);
  const [done] = await finished('long-b', 1);
  t.equal(done?.state, 'stopped');
  t.equal(done?.node_name, 'a2');
  t.equal(done?.error_code, 'CT_EXEC_STOPPED');
  await until('the process to be gone', async () => (alive(pid) ? undefined : true));
  const again = await call(server.url, 'POST', `/v1/jobs/long-b/executions/${e.id}/stop`);
  t.equal(again.status >= 400, true, 'stopping it again: not running');
});

t.test('kill -9 of an agent mid-run: lost after the heartbeat deadline, retried on the other agent', async (t) => {
  await createJob({ name: 'long-web', tags: { role: 'web:1' }, retries: 1, executor_config: { shell: 'true', command: 'echo pid=$$; exec sleep 30' } });
  await runJob('long-web');
  const first = await runningOn('long-web');
  orphanPids.add(pidOf(first));
  const victim = agents.get(first.node_name);
  if (!victim) throw new Error(`no agent ${first.node_name}`);
  const killedAt = Date.now();
  await victim.kill9();
  const lost = await until('the first attempt to be lost', async () => {
    const e = (await executions(server.url, 'long-web')).find((x) => x.id === first.id);
    return e?.state === 'lost' ? e : undefined;
  });
  t.match(lost.error, new RegExp(`agent ${first.node_name} went away .* did not come back within 4000 ms`));
  t.equal(lost.error_code, 'CT_EXEC_AGENT_LOST');
  t.ok(Date.parse(lost.finished_at ?? '') - killedAt >= 3500, 'not before the deadline');
  const retry = await until('the retry to run on the other agent', async () => {
    const e = (await executions(server.url, 'long-web')).find((x) => x.attempt === 2 && x.state === 'running' && /pid=\d+/.test(x.output));
    return e;
  });
  const other = first.node_name === 'a1' ? 'a2' : 'a1';
  t.equal(retry.node_name, other, 'the retry runs elsewhere');
  t.equal(retry.group, first.group, 'same fire');
  t.notOk((await agentNames()).includes(first.node_name), 'the dead agent is gone from /v1/agents');
  const stop = await call(server.url, 'POST', `/v1/jobs/long-web/executions/${retry.id}/stop`);
  t.equal(stop.status, 202);
  await finished('long-web', 2);
  // Bring the killed agent back for the next tests.
  await startAgent(first.node_name, first.node_name === 'a1' ? { role: 'web', zone: 'a' } : { role: 'web', zone: 'b' });
  await waitAgents(['a1', 'a2']);
});

t.test('the agents survive a server restart; what finished while it was down is committed once', async (t) => {
  const gate = join(root.path, 'while-down.gate');
  await createJob({ name: 'while-down', tags: { zone: 'a' }, executor_config: { shell: 'true', command: gated(gate, 'finished') } });
  await runJob('while-down');
  const e = await runningOn('while-down');
  t.equal(e.node_name, 'a1');
  const a1 = agents.get('a1');
  if (!a1) throw new Error('no a1');
  const registered = (a1.log().match(/registered with the leader/g) ?? []).length;
  t.equal(await server.stop(), 0, 'the server stops cleanly');
  // The execution finishes on a1 while no server runs.
  writeFileSync(gate, '');
  await until('the run to end on a1', async () => (alive(pidOf(e)) ? undefined : true));
  server = await startServerProcess(spec, ['--tag', 'role=server', ...agentTimeout]);
  await until('a1 to register again', async () => ((a1.log().match(/registered with the leader/g) ?? []).length > registered ? true : undefined));
  const [done] = await finished('while-down', 1);
  t.equal(done?.id, e.id);
  t.equal(done?.state, 'succeeded', 'the result the agent kept is committed');
  t.match(done?.output, /pid=\d+\nfinished\n/, 'with the output produced while cut off');
  t.equal((await executions(server.url, 'while-down')).length, 1, 'and nothing ran twice');
  await waitAgents(['s1', 'a1', 'a2']);
  await runJob('zone-a');
  const after = await finished('zone-a', 4);
  t.equal(after.filter((x) => x.node_name === 'a1').length, 4, 'a1 takes new work after the restart');
});

t.test('a graceful agent stop lets running work finish, reports it, and leaves', async (t) => {
  const gate = join(root.path, 'grace.gate');
  await createJob({ name: 'grace', tags: { zone: 'b' }, executor_config: { shell: 'true', command: gated(gate, 'done') } });
  await runJob('grace');
  const e = await runningOn('grace');
  const a2 = agents.get('a2');
  if (!a2) throw new Error('no a2');
  const stopped = a2.stop();
  await a2.waitLog(/agent: leaving; .*waiting up to/);
  t.ok(alive(pidOf(e)), 'the run goes on while the agent leaves');
  writeFileSync(gate, '');
  const code = await stopped;
  t.equal(code, 0, 'exits 0');
  const [done] = await finished('grace', 1);
  t.equal(done?.id, e.id);
  t.equal(done?.state, 'succeeded');
  t.match(done?.output, /done\n$/);
  await until('a2 to be gone from /v1/agents', async () => ((await agentNames()).includes('a2') ? undefined : true));
  agents.delete('a2');
  await runJob('grace');
  const [failed] = (await finished('grace', 2)).filter((x) => x.id !== e.id);
  t.match(failed?.error, /no alive agent matches the job's tags zone=b/, 'nothing matches once it left');
});

t.test('a server stopped with SIGTERM lets its own agent finish, commits the result, then exits', async (t) => {
  const gate = join(root.path, 'own-grace.gate');
  await createJob({ name: 'own-grace', executor_config: { shell: 'true', command: gated(gate, 'done') } });
  await runJob('own-grace');
  const e = await runningOn('own-grace');
  t.equal(e.node_name, 's1', 'untagged: on the server\'s own agent');
  const stopped = server.stop();
  await until('the server to wait for its own agent', async () => (/waiting up to 30000 ms for 1 executions of this server's own agent/.test(server.log()) ? true : undefined));
  t.ok(alive(pidOf(e)), 'the run goes on while the server drains');
  writeFileSync(gate, '');
  t.equal(await stopped, 0);
  server = await startServerProcess(spec, ['--tag', 'role=server', ...agentTimeout]);
  const [done] = await finished('own-grace', 1);
  t.equal(done?.id, e.id);
  t.equal(done?.state, 'succeeded', 'committed before the server stopped');
  t.match(done?.output, /done\n$/);
});
