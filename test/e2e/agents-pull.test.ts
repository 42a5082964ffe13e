// Pull agents end to end: a real 3-server cluster and real pull agent
// processes (`clocktower agent --pull --join http://...`, a follower's URL
// first, so every request is forwarded to the leader) plus the Python
// example worker. Registration (/v1/agents, /v1/members), routing by tags,
// the --max-concurrent cap, a crashing executor plugin (a failed execution,
// the agent carries on), kill -9 of a pull agent mid-run (lost at the
// deadline, retried on another), the protocol's answers to bad input, and
// examples/pull-worker-python.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { call, executions, tempDir, until, type ExecutionJson } from '../support/light-process.js';
import { agreedLeader, serverSpecs, startServerProcess, type ServerProcess } from '../support/cluster-processes.js';
import { startAgentProcess, type AgentProcess } from '../support/agent-process.js';
import { startFaultProxy } from '../support/fault-proxy.js';

const root = tempDir('ct-pull-');
const specs = await serverSpecs(root.path, ['s1', 's2', 's3']);
const servers: ServerProcess[] = await Promise.all(specs.map((s) => startServerProcess(s, ['--tag', 'role=server', '--agent-timeout', '3s', '--output-limit', '2000000'])));
const leader = await agreedLeader(servers);
const followers = servers.filter((s) => s !== leader);
const joinUrls = [...followers, leader].map((s) => s.url);
const agents = new Map<string, AgentProcess>();
const orphanPids = new Set<number>();
let python: ChildProcess | null = null;

const plugins = join(root.path, 'plugins');
mkdirSync(plugins);
const fixture = join(plugins, 'clocktower-executor-fixture');
writeFileSync(fixture, `#!/bin/sh\nexec "${process.execPath}" "${resolve('dist/test/plugins/fixtures/fixture-plugin.js')}"\n`);
chmodSync(fixture, 0o755);

t.teardown(async () => {
  python?.kill('SIGKILL');
  for (const a of agents.values()) await a.kill9().catch(() => {});
  for (const s of servers) await s.kill9().catch(() => {});
  for (const pid of orphanPids) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  root.remove();
});

async function startPull(name: string, tags: Record<string, string>, extra: string[] = []): Promise<AgentProcess> {
  const a = await startAgentProcess(name, joinUrls, tags, ['--pull', '--plugin-dir', plugins, ...extra]);
  agents.set(name, a);
  return a;
}

interface AgentJson { name: string; tags: Record<string, string>; transport: string; capacity: number; running: number }

async function agentList(): Promise<AgentJson[]> {
  const a = await call(followers[0]!.url, 'GET', '/v1/agents');
  return a.status === 200 ? (a.body as AgentJson[]) : [];
}

async function waitAgents(names: string[]): Promise<void> {
  await until(`agents ${names.join(', ')}`, async () => {
    const have = (await agentList()).map((a) => a.name);
    return names.every((n) => have.includes(n)) ? true : undefined;
  });
}

async function createJob(job: Record<string, unknown>): Promise<void> {
  const config = job['executor'] === undefined ? { shell: 'true', ...(job['executor_config'] as object) } : job['executor_config'];
  const r = await call(leader.url, 'POST', '/v1/jobs', { schedule: '@manually', executor: 'shell', ...job, executor_config: config });
  if (r.status !== 201) throw new Error(`create ${String(job['name'])}: ${r.status} ${r.text}`);
}

async function runJob(name: string): Promise<void> {
  const r = await call(leader.url, 'POST', `/v1/jobs/${name}/run`);
  if (r.status >= 300) throw new Error(`run ${name}: ${r.status} ${r.text}`);
}

async function finished(name: string, count: number, ms = 30_000): Promise<ExecutionJson[]> {
  return until(`${count} finished executions of ${name}`, async () => {
    const list = await executions(leader.url, name);
    const done = list.filter((e) => e.finished_at !== null);
    return done.length >= count ? done : undefined;
  }, ms);
}

await startPull('p1', { pool: 'a' }, ['--max-concurrent', '2']);
await startPull('p2', { pool: 'shared' });
await startPull('p3', { pool: 'shared' });
await waitAgents(['p1', 'p2', 'p3']);

t.test('pull agents are listed in /v1/agents and /v1/members', async (t) => {
  const list = await agentList();
  const p1 = list.find((a) => a.name === 'p1');
  t.match(p1, { tags: { pool: 'a' }, transport: 'pull', capacity: 2 });
  t.equal(list.find((a) => a.name === leader.name)?.transport, 'local', "the leader's own agent");
  const members = (await call(leader.url, 'GET', '/v1/members')).body as { Name: string; Tags: Record<string, string> }[];
  t.match(members.find((m) => m.Name === 'p2')?.Tags, { pool: 'shared', server: 'false', transport: 'pull' });
});

t.test('a job tagged for one pull agent runs only there, with its output', async (t) => {
  await createJob({ name: 'pool-a', tags: { pool: 'a' }, executor_config: { command: 'echo ran on pool a; echo second line >&2' } });
  for (let i = 0; i < 3; i++) await runJob('pool-a');
  const done = await finished('pool-a', 3);
  t.same(done.map((e) => e.node_name), ['p1', 'p1', 'p1']);
  t.ok(done.every((e) => e.state === 'succeeded'), 'succeeded');
  t.match(done[0]?.output, /ran on pool a\n/);
  t.match(done[0]?.output, /second line\n/);
  await createJob({ name: 'pool-a-fails', tags: { pool: 'a' }, executor_config: { command: 'echo failing; exit 7' } });
  await runJob('pool-a-fails');
  const [f] = await finished('pool-a-fails', 1);
  t.match(f, { state: 'failed', node_name: 'p1', output: 'failing\n', error_code: 'CT_EXEC_FAILED' });
});

t.test('--max-concurrent 2: never more than two at once on the agent, and all of them run', async (t) => {
  const log = join(root.path, 'cap.log');
  writeFileSync(log, '');
  await createJob({ name: 'capped', tags: { pool: 'a' }, concurrency: 'allow', executor_config: { command: `echo s >> ${log}; sleep 0.4; echo e >> ${log}` } });
  for (let i = 0; i < 6; i++) await runJob('capped');
  const done = await finished('capped', 6, 40_000);
  t.ok(done.every((e) => e.state === 'succeeded' && e.node_name === 'p1'), 'all six succeeded on p1');
  let now = 0;
  let peak = 0;
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    if (line === 's') peak = Math.max(peak, ++now);
    if (line === 'e') now--;
  }
  t.equal(peak, 2, 'two at a time at most, and two at a time indeed');
});

t.test('a saturated agent keeps its session: runs longer than --agent-timeout are not lost, the one waiting runs after', async (t) => {
  await createJob({ name: 'long-capped', tags: { pool: 'a' }, concurrency: 'allow', executor_config: { command: 'sleep 3.5; echo slept' } });
  for (let i = 0; i < 3; i++) await runJob('long-capped');
  const done = await finished('long-capped', 3, 40_000);
  t.same(done.map((e) => e.state), ['succeeded', 'succeeded', 'succeeded'], 'none lost: the saturated agent heartbeats through its polls');
  t.ok(done.every((e) => e.node_name === 'p1' && e.attempt === 1 && e.output === 'slept\n'));
});

t.test('output larger than a request body: streamed in pieces, the result\'s tail trimmed to fit; nothing refused', async (t) => {
  await createJob({ name: 'big-out', tags: { pool: 'a' }, executor_config: { command: "head -c 3000000 /dev/zero | tr '\\0' y" } });
  await runJob('big-out');
  const [e] = await finished('big-out', 1);
  t.equal(e?.state, 'succeeded');
  t.equal(e?.output.length, 2_000_000, 'the kept tail (--output-limit) in full');
  t.match(e?.output, /^y+$/);
});

t.test('an executor plugin that crashes mid-task fails that execution; the agent carries on', async (t) => {
  await createJob({ name: 'crasher', executor: 'fixture', tags: { pool: 'a' }, executor_config: { mode: 'crash' } });
  await runJob('crasher');
  const [c] = await finished('crasher', 1);
  t.equal(c?.state, 'failed');
  t.equal(c?.node_name, 'p1');
  t.equal(c?.error_code, 'CT_EXEC_PLUGIN_CRASHED', "the plugin host's code, through the pull protocol");
  t.match(c?.output, /about to crash/);
  await createJob({ name: 'after-crash', tags: { pool: 'a' }, executor_config: { command: 'echo still here' } });
  await runJob('after-crash');
  const [after] = await finished('after-crash', 1);
  t.match(after, { state: 'succeeded', node_name: 'p1', output: 'still here\n' });
  await createJob({ name: 'fixture-again', executor: 'fixture', tags: { pool: 'a' }, executor_config: { text: 'restarted' } });
  await runJob('fixture-again');
  const [again] = await finished('fixture-again', 1);
  t.match(again, { state: 'succeeded', node_name: 'p1' });
  t.match(again?.output, /restarted/, 'the plugin was started again');
});

t.test('kill -9 of a pull agent mid-run: lost at the deadline, retried on another pull agent', async (t) => {
  const marker = join(root.path, 'ran-once');
  await createJob({
    name: 'shared-retry', tags: { pool: 'shared' }, retries: 1,
    executor_config: { command: `echo pid=$$; if mkdir ${marker} 2>/dev/null; then sleep 60; fi; echo done` },
  });
  await runJob('shared-retry');
  const first = await until('the first run, with its pid', async () => (await executions(leader.url, 'shared-retry')).find((e) => e.state === 'running' && /pid=\d+/.test(e.output)));
  orphanPids.add(Number(/pid=(\d+)/.exec(first.output)?.[1]));
  const victim = agents.get(first.node_name);
  if (!victim) throw new Error(`no agent ${first.node_name}`);
  const killedAt = Date.now();
  await victim.kill9();
  agents.delete(first.node_name);
  const done = await until('a lost run and a retry that succeeded', async () => {
    const list = await executions(leader.url, 'shared-retry');
    const lost = list.find((e) => e.id === first.id && e.state === 'lost');
    const retry = list.find((e) => e.attempt === 2 && e.state === 'succeeded');
    return lost && retry ? { lost, retry } : undefined;
  }, 30_000);
  t.ok(Date.now() - killedAt >= 2500, 'lost only at the deadline (3s)');
  t.match(done.lost.error, /lost/);
  t.equal(done.lost.error_code, 'CT_EXEC_AGENT_LOST');
  t.not(done.retry.node_name, first.node_name, 'retried on the other agent');
  t.match(done.retry.node_name, /^p[23]$/);
  t.match(done.retry.output, /done\n/);
  await until('the killed agent off /v1/agents', async () => ((await agentList()).some((a) => a.name === first.node_name) ? undefined : true));
});

t.test('the protocol answers bad input with clear JSON errors', async (t) => {
  const unknown = await call(followers[0]!.url, 'POST', '/v1/pull/poll', { session: 'no-such-session', free: 1 });
  t.equal(unknown.status, 404);
  t.match(unknown.text, /CT_PULL_UNKNOWN_SESSION/);
  const noNode = await call(leader.url, 'POST', '/v1/pull/register', { tags: {} });
  t.equal(noNode.status, 400);
  t.match(noNode.text, /node/);
  const extra = await call(leader.url, 'POST', '/v1/pull/register', { node: 'x', tagz: {} });
  t.equal(extra.status, 400);
  t.match(extra.body, { error: { code: 'CT_API_UNKNOWN_FIELD', field: 'tagz' } });
  const taken = await call(leader.url, 'POST', '/v1/pull/register', { node: 'p1', instance: 'someone-else' });
  t.equal(taken.status, 409, 'a node name held by a live agent is refused');
  const badResult = await call(leader.url, 'POST', '/v1/pull/results', { session: 'x', results: [{ execution_id: '1' }] });
  t.equal(badResult.status, 400);
  t.match(badResult.text, /results\[0\]\.success/);
  // A raw session: register, poll once, result for an execution it never had (acknowledged: nothing to wait for), end.
  const reg = await call(followers[1]!.url, 'POST', '/v1/pull/register', { node: 'raw', tags: { pool: 'none' }, executors: ['shell'], capacity: 1 });
  t.equal(reg.status, 200);
  const session = (reg.body as { session: string }).session;
  const polled = await call(followers[1]!.url, 'POST', '/v1/pull/poll', { session, free: 1, wait_ms: 50 });
  t.same(polled.body, { assignments: [], stops: [], acks: [] });
  const res = await call(followers[1]!.url, 'POST', '/v1/pull/results', { session, results: [{ execution_id: '999999', success: true }] });
  t.same(res.body, { acknowledged: ['999999'] });
  t.equal((await call(followers[1]!.url, 'POST', '/v1/pull/leave', { session, end: true })).status, 200);
  t.equal((await call(followers[1]!.url, 'POST', '/v1/pull/poll', { session, free: 1 })).status, 404, 'an ended session is gone');
});

t.test('the raw protocol: claim, a lost poll answer handed out again, output then a result tail, a stop', async (t) => {
  const via = followers[1]!.url;
  const post = async (path: string, body: Record<string, unknown>) => {
    const r = await call(via, 'POST', path, body);
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.text}`);
    return r.body as Record<string, unknown>;
  };
  const reg = await post('/v1/pull/register', { node: 'raw2', tags: { pool: 'raw' }, executors: ['shell'], capacity: 5, instance: 'raw2-1' });
  const session = reg['session'] as string;
  t.ok(Number(reg['heartbeat_ms']) > 0 && Number(reg['max_wait_ms']) > 0, 'heartbeat and wait limits');
  t.equal(reg['error_codes'], true, 'results may carry error_code');
  interface Assignment { execution_id: string; job_name: string; executor: string; config: Record<string, string>; attempt: number }
  const poll = async (free: number, held: string[]) => (await post('/v1/pull/poll', { session, free, held, wait_ms: 2000 })) as { assignments: Assignment[]; stops: string[]; acks: string[] };
  await createJob({ name: 'raw-job', tags: { pool: 'raw' }, executor_config: { command: 'echo raw' } });
  await runJob('raw-job');
  const first = await poll(1, []);
  t.equal(first.assignments.length, 1, 'the long poll brings the assignment');
  const a = first.assignments[0]!;
  t.match(a, { job_name: 'raw-job', executor: 'shell', config: { command: 'echo raw', shell: 'true' }, attempt: 1 });
  const again = await poll(1, []);
  t.same(again.assignments.map((x) => x.execution_id), [a.execution_id], 'not held by the agent: handed out again (the answer was lost)');
  const quiet = await post('/v1/pull/poll', { session, free: 1, held: [a.execution_id], wait_ms: 100 });
  t.same(quiet, { assignments: [], stops: [], acks: [] }, 'held: not handed out a third time');
  await post('/v1/pull/output', { session, chunks: [{ execution_id: a.execution_id, text: 'hello ' }] });
  const live = await until('the streamed output', async () => (await executions(leader.url, 'raw-job')).find((e) => e.output === 'hello '));
  t.equal(live.state, 'running');
  const acked = await post('/v1/pull/results', { session, results: [{ execution_id: a.execution_id, success: true, exit_code: 0, output_tail_text: 'hello world\n', output_total_bytes: 12 }] });
  t.same(acked, { acknowledged: [a.execution_id] }, 'acknowledged once committed');
  const [done] = await finished('raw-job', 1);
  t.match(done, { state: 'succeeded', node_name: 'raw2', output: 'hello world\n' }, 'the tail adds what the server had not received');
  const twice = await post('/v1/pull/results', { session, results: [{ execution_id: a.execution_id, success: false, exit_code: 1 }] });
  t.same(twice, { acknowledged: [a.execution_id] }, 'a repeated result is acknowledged');
  t.equal((await executions(leader.url, 'raw-job'))[0]?.state, 'succeeded', 'and changes nothing');

  await runJob('raw-job');
  const second = (await poll(1, [])).assignments[0];
  if (!second) throw new Error('no second assignment');
  t.equal((await call(leader.url, 'POST', `/v1/jobs/raw-job/executions/${second.execution_id}/stop`)).status < 300, true, 'stop requested');
  const stop = await poll(0, [second.execution_id]);
  t.same(stop.stops, [second.execution_id], 'the stop arrives in a poll, even with no free slot');
  await post('/v1/pull/results', { session, results: [{ execution_id: second.execution_id, success: false, exit_code: -1, error: 'stopped on request', stopped: true }] });
  const stopped = await until('the stopped run', async () => (await executions(leader.url, 'raw-job')).find((e) => e.id === second.execution_id && e.finished_at !== null));
  t.equal(stopped.state, 'stopped');
  t.equal(stopped.error_code, 'CT_EXEC_STOPPED');
  await runJob('raw-job');
  const third = (await poll(1, [])).assignments[0];
  if (!third) throw new Error('no third assignment');
  await post('/v1/pull/results', { session, results: [{ execution_id: third.execution_id, success: false, exit_code: 2, error: 'took too long', error_code: 'CT_EXEC_TIMEOUT' }] });
  const timedOut = await until('the timed-out run', async () => (await executions(leader.url, 'raw-job')).find((e) => e.id === third.execution_id && e.finished_at !== null));
  t.match(timedOut, { state: 'failed', error: 'took too long', error_code: 'CT_EXEC_TIMEOUT' }, "a pull worker's own code");
  const badCode = await call(leader.url, 'POST', '/v1/pull/results', { session, results: [{ execution_id: third.execution_id, success: false, error_code: 'not a code' }] });
  t.match(badCode.body, { error: { code: 'CT_API_INVALID_FIELD', field: 'results[0].error_code' } });
  await post('/v1/pull/leave', { session, end: true });
});

t.test('examples/pull-worker-python runs shell jobs', async (t) => {
  python = spawn('/usr/bin/python3', [resolve('examples/pull-worker-python/worker.py'), ...joinUrls.flatMap((u) => ['--server', u]), '--node', 'py1', '--tag', 'pool=py'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  python.stderr?.on('data', (c: Buffer) => { stderr += c.toString(); });
  await waitAgents(['py1']).catch((err: unknown) => { throw new Error(`${String(err)}\n${stderr}`); });
  await createJob({ name: 'py-ok', tags: { pool: 'py' }, executor_config: { command: 'echo from python; echo two' } });
  await createJob({ name: 'py-fail', tags: { pool: 'py' }, executor_config: { command: 'echo no; exit 3' } });
  for (let i = 0; i < 3; i++) await runJob('py-ok');
  await runJob('py-fail');
  const ok = await finished('py-ok', 3);
  t.ok(ok.every((e) => e.state === 'succeeded' && e.node_name === 'py1' && e.output === 'from python\ntwo\n'), `succeeded with output on py1: ${JSON.stringify(ok.map((e) => [e.state, e.output]))}`);
  await createJob({ name: 'py-big', tags: { pool: 'py' }, executor_config: { command: "head -c 1500000 /dev/zero | tr '\\0' y" } });
  await runJob('py-big');
  const [big] = await finished('py-big', 1);
  t.equal(big?.state, 'succeeded');
  t.equal(big?.output.length, 1_500_000, 'big output, streamed in pieces');
  const [fail] = await finished('py-fail', 1);
  t.match(fail, { state: 'failed', node_name: 'py1', output: 'no\n', error_code: 'CT_EXEC_FAILED' }, 'a worker that sends no code: the server derives one');
  t.equal((await agentList()).find((a) => a.name === 'py1')?.transport, 'pull');
});

t.test('a server gone silent mid-run (half-open connections): the pull agent moves to the next within the deadline; nothing lost', async (t) => {
  const proxy = await startFaultProxy(followers[0]!.httpAddr, { mode: 'blackhole' });
  t.teardown(() => proxy.close());
  const p4 = await startAgentProcess('p4', [`http://${proxy.address}`, followers[1]!.url], { pool: 'frozen' }, ['--pull']);
  agents.set('p4', p4);
  await createJob({ name: 'through-freeze', tags: { pool: 'frozen' }, executor_config: { command: 'echo start; sleep 5; echo end' } });
  await runJob('through-freeze');
  await until('it to run on p4', async () => (await executions(leader.url, 'through-freeze')).find((e) => e.state === 'running' && e.output.startsWith('start')));
  proxy.freeze();
  const [done] = await finished('through-freeze', 1);
  t.match(done, { state: 'succeeded', node_name: 'p4', attempt: 1 }, 'not lost: the agent polled the other server in time');
  t.match(done?.output, /^start\nend\n$/);
  t.match(p4.log(), new RegExp(`agent: http://${proxy.address}: `), 'it gave up the silent server');
  await p4.kill9();
  agents.delete('p4');
});

t.test('kill -9 of the leader mid-run: the pull agent registers with the new leader, which commits the result once', async (t) => {
  const p1 = agents.get('p1');
  if (!p1) throw new Error('no p1');
  await createJob({ name: 'pull-across', tags: { pool: 'a' }, executor_config: { command: 'echo start; sleep 3; echo end' } });
  await runJob('pull-across');
  const running = await until('it to run on p1, its output streamed', async () => (await executions(leader.url, 'pull-across')).find((e) => e.state === 'running' && e.output.startsWith('start')));
  t.equal(running.node_name, 'p1');
  const registered = (p1.log().match(/registered with the leader/g) ?? []).length;
  await leader.kill9();
  const next = await agreedLeader(followers);
  await until('p1 to register with the new leader', async () => ((p1.log().match(/registered with the leader/g) ?? []).length > registered ? true : undefined), 30_000);
  t.match(p1.log(), new RegExp(`registered with the leader ${next.name}`));
  const done = await until('the result on the new leader', async () => (await executions(next.url, 'pull-across')).find((e) => e.finished_at !== null), 30_000);
  t.equal(done.id, running.id);
  t.equal(done.state, 'succeeded', 'the new leader reclaimed it and committed its result');
  t.match(done.output, /^start\n.*end\n$/s);
  t.equal((await executions(next.url, 'pull-across')).length, 1, 'it ran once');
  t.ok((await call(next.url, 'POST', '/v1/jobs/pull-across/run')).status < 300);
  const after = await until('a second run through the new leader', async () => {
    const list = (await executions(next.url, 'pull-across')).filter((e) => e.finished_at !== null);
    return list.length === 2 ? list : undefined;
  }, 30_000);
  t.ok(after.every((e) => e.node_name === 'p1' && e.state === 'succeeded'), 'new work reaches p1 through the new leader');

  // A graceful stop: the agent leaves and ends its session; it is off the list at once, not after the deadline.
  t.equal(await p1.stop(), 0, 'SIGTERM: exit 0');
  agents.delete('p1');
  const list = await call(next.url, 'GET', '/v1/agents');
  t.notOk((list.body as AgentJson[]).some((a) => a.name === 'p1'), 'p1 left');
});
