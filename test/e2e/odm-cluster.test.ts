// The Open Data Mesh executor API on a real 3-server cluster: kill -9 of the
// leader while an `odm` task waits (the new leader waits on, the execution
// stays running, the callback sent to a follower is forwarded and finishes
// it, the task is not posted twice); and a callback Clocktower owes an ODM
// platform, pending when the leader is killed, delivered by the next leader.

import t from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { call, tempDir, until, type ExecutionJson } from '../support/light-process.js';
import { agreedLeader, serverSpecs, startServerProcess, type ServerProcess } from '../support/cluster-processes.js';

function listen(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void): Promise<{ url: string; close(): void }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handler(req, body, res));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  })));
}

// The executor service: takes tasks, never calls back by itself.
const posted: { taskId: string; taskType: string; callbackRef: string }[] = [];
const service = await listen((req, body, res) => {
  if (req.method === 'POST' && req.url === '/api/v1/up/executor/tasks') {
    const task = JSON.parse(body) as (typeof posted)[number];
    posted.push(task);
    res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ taskId: task.taskId, status: 'PROCESSING' }));
    return;
  }
  const m = /^\/api\/v1\/up\/executor\/tasks\/([^/]+)\/status$/.exec(req.url ?? '');
  const known = m?.[1] !== undefined && posted.some((p) => p.taskId === decodeURIComponent(m[1] ?? ''));
  if (req.method === 'GET' && known) {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'PROCESSING' }));
    return;
  }
  res.writeHead(404).end();
});

// The ODM platform: takes Clocktower's callbacks, refusing them until told.
let platformAccepts = false;
const callbacks: { path: string; status: number; body: { taskId: string; status: string; results: { output: string } } }[] = [];
const platform = await listen((req, body, res) => {
  const status = platformAccepts ? 200 : 503;
  callbacks.push({ path: req.url ?? '', status, body: JSON.parse(body) as (typeof callbacks)[number]['body'] });
  res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
});

const root = tempDir('ct-odm-cluster-');
const specs = await serverSpecs(root.path, ['s1', 's2', 's3']);
const extra = ['--odm-executors', JSON.stringify({ svc: { active: true, address: service.url, checkAfterCallback: false } })];
const servers = new Map<string, ServerProcess>();
for (const s of await Promise.all(specs.map((s) => startServerProcess(s, extra)))) servers.set(s.name, s);
t.teardown(async () => {
  for (const s of servers.values()) await s.kill9().catch(() => {});
  service.close();
  platform.close();
  root.remove();
});
const live = () => [...servers.values()].filter((s) => s.child.exitCode === null && s.child.signalCode === null);

async function jobExecutions(url: string, name: string): Promise<ExecutionJson[]> {
  const a = await call(url, 'GET', `/v1/jobs/${name}/executions`);
  if (a.status !== 200) throw new Error(`executions of ${name}: ${a.status} ${a.text}`);
  return a.body as ExecutionJson[];
}

async function killLeader(): Promise<{ old: ServerProcess; leader: ServerProcess }> {
  const old = await agreedLeader(live());
  await old.kill9();
  const leader = await agreedLeader(live(), 30_000);
  return { old, leader };
}

async function restart(name: string): Promise<void> {
  const spec = specs.find((s) => s.name === name);
  if (!spec) throw new Error(`no spec ${name}`);
  servers.set(name, await startServerProcess(spec, extra));
}

t.test('kill -9 of the leader while a task waits: the new leader waits on, a follower forwards the callback', async (t) => {
  const first = await agreedLeader(live());
  const follower = live().find((s) => s !== first);
  if (!follower) throw new Error('no follower');
  const created = await call(follower.url, 'POST', '/v1/jobs', { name: 'remote', schedule: '@manually', executor: 'odm', executor_config: { service: 'svc', taskType: 'build', timeout: '5m' } });
  t.equal(created.status, 201, created.text);
  t.equal((await call(follower.url, 'POST', '/v1/jobs/remote/run')).status, 202);
  const task = await until('the task at the service', () => Promise.resolve(posted.find((p) => p.taskType === 'build')));
  t.ok(task.callbackRef.startsWith(`${first.url}/v1/odm/callbacks/`), `the callbackRef points at the leader: ${task.callbackRef}`);

  const { old, leader } = await killLeader();
  t.not(leader.name, old.name);
  const [e] = await jobExecutions(leader.url, 'remote');
  t.equal(e?.state, 'running', 'still running under the new leader');
  const other = live().find((s) => s !== leader);
  if (!other) throw new Error('no follower');
  const ref = task.callbackRef.replace(old.url, other.url);
  // The service retries until it gets through (a 503 while the cluster settles).
  const answer = await until('the callback to be taken', async () => {
    const res = await request(ref, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ taskId: task.taskId, status: 'PROCESSED', results: { url: 'artifact' } }) });
    await res.body.text();
    return res.statusCode === 503 ? undefined : res.statusCode;
  }, 30_000);
  t.equal(answer, 200, 'a follower forwards the callback to the leader');
  const done = await until('the execution to finish', async () => (await jobExecutions(leader.url, 'remote')).find((x) => x.finished_at !== null), 30_000);
  t.match(done, { state: 'succeeded', output: /artifact/ });
  t.equal(posted.filter((p) => p.taskType === 'build').length, 1, 'the task was posted once');
  await restart(old.name);
});

t.test('a callback owed to the platform, pending when the leader is killed, is delivered by the next leader', async (t) => {
  const leader = await agreedLeader(live());
  const created = await call(leader.url, 'POST', '/v1/jobs', { name: 'local', schedule: '@manually', executor: 'shell', executor_config: { command: 'echo done here' } });
  t.equal(created.status, 201, created.text);
  const task = await call(leader.url, 'POST', '/api/v1/up/executor/tasks', { taskId: 'p-1', taskType: 'local', callbackRef: `${platform.url}/callbacks/p-1`, parameters: { run: 1 } });
  t.equal(task.status, 201, task.text);
  await until('a refused callback', () => Promise.resolve(callbacks.find((c) => c.body.taskId === 'p-1')), 30_000);
  const { old, leader: next } = await killLeader();
  platformAccepts = true;
  const delivered = await until('the callback to be delivered', () => Promise.resolve(callbacks.find((c) => c.body.taskId === 'p-1' && c.status === 200)), 30_000);
  t.match(delivered.body, { taskId: 'p-1', status: 'PROCESSED', results: { output: 'done here\n' } });
  const status = await until('the delivery to be recorded', async () => {
    const s = await call(next.url, 'GET', '/api/v1/up/executor/tasks/p-1/status');
    return (s.body as { callbackDelivered?: boolean }).callbackDelivered === true ? s : undefined;
  }, 30_000);
  t.match(status.body, { status: 'PROCESSED', parameters: { run: 1 } });
  await restart(old.name);
});

t.test('no leader: a callback is answered 503 (the service retries), and taken once there is one again', async (t) => {
  const leader = await agreedLeader(live());
  const before = posted.length;
  t.equal((await call(leader.url, 'POST', '/v1/jobs/remote/run')).status, 202);
  const task = await until('the task at the service', () => Promise.resolve(posted.slice(before).find((p) => p.taskType === 'build')));
  const others = live().filter((s) => s !== leader);
  const [survivor, second] = others;
  if (!survivor || !second) throw new Error('two followers');
  await leader.kill9();
  await second.kill9();
  const ref = task.callbackRef.replace(leader.url, survivor.url);
  const body = JSON.stringify({ taskId: task.taskId, status: 'PROCESSED', results: { after: 'outage' } });
  const patch = async () => {
    const res = await request(ref, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body });
    return { status: res.statusCode, text: await res.body.text() };
  };
  const refused = await patch();
  t.equal(refused.status, 503, `no leader: 503 (${refused.text})`);
  await restart(leader.name);
  await restart(second.name);
  const next = await agreedLeader(live(), 30_000);
  const taken = await until('the callback to be taken', async () => {
    const a = await patch();
    return a.status === 503 ? undefined : a.status;
  }, 30_000);
  t.equal(taken, 200);
  const done = await until('the execution to finish', async () => (await jobExecutions(next.url, 'remote')).find((x) => x.output.includes('outage')), 30_000);
  t.equal(done.state, 'succeeded');
});
