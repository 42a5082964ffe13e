// A workflow run across a leader change: three real servers and one real
// agent. kill -9 of the leader while a task of the run runs on the agent:
// the new leader reclaims the task, commits its result once, decides what it
// unlocks from the replicated run, and the run finishes with every task run
// exactly once.
import t from 'tap';
import { call, executions, tempDir, until } from '../support/light-process.js';
import { agreedLeader, serverSpecs, startServerProcess, type ServerProcess } from '../support/cluster-processes.js';
import { startAgentProcess, type AgentProcess } from '../support/agent-process.js';

const root = tempDir('ct-cluster-workflows-');
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

interface RunJson { id: string; state: string; tasks: { job: string; state: string; execution_id: string | null }[] }

t.test('kill -9 of the leader mid-run: the run finishes and no task ran twice', async (t) => {
  const leader = await agreedLeader(live());
  agent = await startAgentProcess('a1', [leader.rpcAddr], { zone: 'a' });
  await until('a1 on the leader', async () => {
    const r = await call(leader.url, 'GET', '/v1/agents');
    return r.status === 200 && (r.body as { name: string }[]).some((a) => a.name === 'a1') ? true : undefined;
  });
  const job = (name: string, command: string, over: Record<string, unknown> = {}) => ({ name, executor: 'shell', tags: { zone: 'a' }, executor_config: { shell: 'true', command }, ...over });
  for (const j of [
    job('cw-a', 'echo a', { schedule: '@manually', parameters: { who: 'cluster' } }),
    job('cw-slow', 'echo start; sleep 3; echo end; echo ::set-param from_slow=yes', { depends_on: [{ job: 'cw-a' }] }),
    job('cw-fast', 'echo fast', { depends_on: [{ job: 'cw-a' }] }),
    job('cw-join', 'echo "joined {{ .Run.ID }} $CLOCKTOWER_PARAM_WHO $CLOCKTOWER_PARAM_FROM_SLOW"', { depends_on: [{ job: 'cw-slow' }, { job: 'cw-fast' }] }),
  ]) {
    const r = await call(leader.url, 'POST', '/v1/jobs', j);
    t.equal(r.status, 201, `create ${j.name}: ${r.text}`);
  }
  const started = await call(leader.url, 'POST', '/v1/jobs/cw-a/run');
  const id = (started.body as { run_id?: string }).run_id ?? '';
  t.ok(id, 'the root started a run');
  const running = await until('cw-slow to run on a1', async () => (await executions(leader.url, 'cw-slow')).find((e) => e.state === 'running' && e.output.startsWith('start')), 30_000);
  t.equal(running.node_name, 'a1');
  await leader.kill9();
  const next = await agreedLeader(live());
  t.not(next.name, leader.name, 'a new leader');
  const run = await until('the run to finish on the new leader', async () => {
    const r = await call(next.url, 'GET', `/v1/runs/${id}`);
    return r.status === 200 && (r.body as RunJson).state !== 'running' ? (r.body as RunJson) : undefined;
  }, 60_000);
  t.equal(run.state, 'succeeded', JSON.stringify(run));
  t.same(run.tasks.map((x) => [x.job, x.state]), [['cw-a', 'succeeded'], ['cw-slow', 'succeeded'], ['cw-fast', 'succeeded'], ['cw-join', 'succeeded']]);
  for (const name of ['cw-a', 'cw-slow', 'cw-fast', 'cw-join']) {
    const list = await executions(next.url, name);
    t.equal(list.length, 1, `${name} ran once`);
    t.equal((list[0] as { run_id?: string } | undefined)?.run_id, id);
  }
  const [slow] = await executions(next.url, 'cw-slow');
  t.equal(slow?.id, running.id, 'the new leader reclaimed the running task');
  const [joined] = await executions(next.url, 'cw-join');
  t.equal(joined?.output, `joined ${id} cluster yes\n`, 'parameters reach a task on an agent, also from a task the new leader settled');
});
