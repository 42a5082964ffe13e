// Metrics in a real 3-server cluster with a separate agent: each execution
// is counted once, by the leader that committed its result (followers count
// nothing), also across a kill -9 of the leader (the new leader counts only
// what it commits itself); the agent's --metrics-addr answers; the leader's
// log has a line for the agent's join.
import t from 'tap';
import { call, tempDir, until } from '../support/light-process.js';
import { agreedLeader, serverSpecs, startServerProcess, type ServerProcess } from '../support/cluster-processes.js';
import { startAgentProcess, type AgentProcess } from '../support/agent-process.js';
import { parsePrometheusText, type Exposition } from '../support/prometheus-text.js';
import { freePort } from '../support/free-port.js';

const root = tempDir('ct-cluster-metrics-');
const specs = await serverSpecs(root.path, ['s1', 's2', 's3']);
const servers = new Map<string, ServerProcess>();
for (const s of await Promise.all(specs.map((s) => startServerProcess(s)))) servers.set(s.name, s);
const metricsPort = await freePort();
let agent: AgentProcess | null = null;
t.teardown(async () => {
  await agent?.kill9().catch(() => {});
  for (const s of servers.values()) await s.kill9().catch(() => {});
  root.remove();
});
const live = () => [...servers.values()].filter((s) => s.child.exitCode === null && s.child.signalCode === null);

async function scrape(url: string): Promise<Exposition> {
  const a = await call(url, 'GET', '/metrics');
  if (a.status !== 200) throw new Error(`${url}/metrics: ${a.status} ${a.text}`);
  return parsePrometheusText(a.text);
}

async function runAndWait(url: string, name: string, finishedBefore: number): Promise<void> {
  const r = await call(url, 'POST', `/v1/jobs/${name}/run`);
  if (r.status !== 202) throw new Error(`run ${name}: ${r.status} ${r.text}`);
  await until(`${finishedBefore + 1} finished executions of ${name}`, async () => {
    const list = await call(url, 'GET', `/v1/jobs/${name}/executions`);
    if (list.status !== 200) return undefined;
    const done = (list.body as { finished_at: string | null }[]).filter((e) => e.finished_at !== null).length;
    return done >= finishedBefore + 1 ? true : undefined;
  });
}

const sum = (scrapes: readonly Exposition[], name: string, labels: Record<string, string>) => scrapes.reduce((n, m) => n + m.value(name, labels), 0);

t.test('each execution is counted once, by the leader; the agent serves --metrics-addr', async (t) => {
  const leader = await agreedLeader(live());
  agent = await startAgentProcess('a1', [leader.rpcAddr], { role: 'web' }, ['--metrics-addr', `127.0.0.1:${metricsPort}`]);
  await until('a1 to be connected', async () => {
    const a = await call(leader.url, 'GET', '/v1/agents');
    return a.status === 200 && (a.body as { name: string }[]).some((x) => x.name === 'a1') ? true : undefined;
  });
  for (const job of [
    { name: 'local-ok', executor_config: { command: 'true' } },
    { name: 'web-ok', tags: { role: 'web' }, executor_config: { command: 'true' } },
    { name: 'web-bad', tags: { role: 'web' }, executor_config: { command: 'false' } },
  ]) {
    const r = await call(leader.url, 'POST', '/v1/jobs', { schedule: '@manually', executor: 'shell', ...job });
    t.equal(r.status, 201, r.text);
  }
  for (let i = 0; i < 2; i++) await runAndWait(leader.url, 'local-ok', i);
  for (let i = 0; i < 3; i++) await runAndWait(leader.url, 'web-ok', i);
  await runAndWait(leader.url, 'web-bad', 0);

  const followers = live().filter((s) => s !== leader);
  const onLeader = await scrape(leader.url);
  const onFollowers = await Promise.all(followers.map((f) => scrape(f.url)));
  const everywhere = [onLeader, ...onFollowers];
  t.equal(sum(everywhere, 'dkron_job_executions_succeeded_total', { job_name: 'local-ok' }), 2);
  t.equal(sum(everywhere, 'dkron_job_executions_succeeded_total', { job_name: 'web-ok' }), 3);
  t.equal(sum(everywhere, 'dkron_job_executions_failed_total', { job_name: 'web-bad' }), 1);
  t.equal(onLeader.value('dkron_job_executions_succeeded_total', { job_name: 'web-ok' }), 3, 'the leader counts');
  t.equal(onLeader.value('clocktower_executions_total', { state: 'succeeded', executor: 'shell' }), 5);
  t.equal(onLeader.value('clocktower_fires_total', { trigger: 'manual' }), 6);
  t.equal(onLeader.value('clocktower_raft_leader'), 1);
  t.equal(onLeader.value('clocktower_agents_connected'), 4, 'the three servers\' own agents and a1');
  t.ok(onLeader.has('clocktower_agent_executions_running', { agent: 'a1' }));
  t.ok(onLeader.has('clocktower_agent_executions_queued', { agent: 'a1' }));
  for (const f of onFollowers) {
    t.equal(f.value('clocktower_raft_leader'), 0);
    t.equal(f.value('dkron_job_executions_succeeded_total', { job_name: 'web-ok' }), 0, 'a follower counts nothing');
    t.equal(f.value('clocktower_agents_connected'), 0);
    t.equal(f.value('clocktower_raft_term'), onLeader.value('clocktower_raft_term'));
  }

  const fromAgent = await call(`http://127.0.0.1:${metricsPort}`, 'GET', '/metrics');
  t.equal(fromAgent.status, 200);
  t.match(String(fromAgent.headers['content-type']), /^text\/plain/);
  const a = parsePrometheusText(fromAgent.text);
  t.ok(a.has('clocktower_node_executions_running'));
  t.equal(a.value('clocktower_node_executions_queued'), 0);
  t.ok(a.has('process_resident_memory_bytes'));
  t.notOk(a.has('dkron_job_executions_succeeded_total', { job_name: 'web-ok' }), 'an agent counts no job results: the leader does');
  t.equal((await call(`http://127.0.0.1:${metricsPort}`, 'GET', '/other')).status, 404);

  t.match(leader.log(), /INFO agents: a1 connected .* event=agent_joined agent=a1/);
  t.match(leader.log(), /INFO execution finished event=execution_finished job=web-ok execution=\d+ node=a1 state=succeeded duration_ms=\d+/);
});

t.test('after a kill -9 of the leader, the new leader counts only what it commits', async (t) => {
  const old = await agreedLeader(live());
  await old.kill9();
  const leader = await agreedLeader(live(), 30_000);
  await until('a1 to be connected to the new leader', async () => {
    const a = await call(leader.url, 'GET', '/v1/agents');
    return a.status === 200 && (a.body as { name: string }[]).some((x) => x.name === 'a1') ? true : undefined;
  }, 30_000);
  const before = await scrape(leader.url);
  t.equal(before.value('dkron_job_executions_succeeded_total', { job_name: 'web-ok' }), 0, 'nothing counted twice');
  await runAndWait(leader.url, 'web-ok', 3);
  const after = await scrape(leader.url);
  t.equal(after.value('dkron_job_executions_succeeded_total', { job_name: 'web-ok' }), 1);
  t.equal(after.value('dkron_job_executions_failed_total', { job_name: 'web-ok' }), 0);
  const other = live().find((s) => s !== leader);
  if (other) t.equal((await scrape(other.url)).value('dkron_job_executions_succeeded_total', { job_name: 'web-ok' }), 0);
  t.ok(after.value('clocktower_raft_leader_changes_total') >= 2, 'it saw the old leader and then itself');
});

t.test('an agent whose --metrics-addr is taken does not start, and says why', async (t) => {
  const leader = await agreedLeader(live(), 30_000);
  await t.rejects(startAgentProcess('a2', [leader.rpcAddr], {}, ['--metrics-addr', `127.0.0.1:${metricsPort}`]),
    new RegExp(`cannot serve metrics on 127\\.0\\.0\\.1:${metricsPort}: listen EADDRINUSE`));
});
