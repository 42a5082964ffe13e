// Clocktower as an Open Data Mesh executor service, `clocktower light` as a
// real process driven by a test client that plays the ODM platform: a task
// runs the job its taskType names, the callback is retried until the
// platform answers 2xx (also across a kill -9 and restart), a duplicate
// taskId is 409 and starts nothing, an unknown taskType 422, a malformed
// body 400, and the routes honour the API token.

import t from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { call, startLight, tempDir, until, type ExecutionJson, type LightProcess } from '../support/light-process.js';

interface CallbackSeen {
  path: string;
  body: { taskId: string; status: string; results: { message: string; executionTime: number; output: string; execution_id: string } };
  answered: number;
}

// ---- the platform: takes callbacks, answering what the test says --------------

const seen: CallbackSeen[] = [];
/** Per callback path: how many more times to answer 500 before a 200 (Infinity: until told otherwise). */
const failFirst = new Map<string, number>();

const platform = createServer((req: IncomingMessage, res: ServerResponse) => {
  let text = '';
  req.on('data', (c: Buffer) => (text += c.toString()));
  req.on('end', () => {
    const path = req.url ?? '';
    const left = failFirst.get(path) ?? 0;
    const answered = left > 0 ? 500 : 200;
    if (left > 0) failFirst.set(path, left - 1);
    seen.push({ path, body: JSON.parse(text) as CallbackSeen['body'], answered });
    res.writeHead(answered, { 'content-type': 'application/json' }).end(answered === 200 ? '{}' : '{"error":"try later"}');
  });
});
await new Promise<void>((resolve) => platform.listen(0, '127.0.0.1', resolve));
const platformUrl = `http://127.0.0.1:${(platform.address() as AddressInfo).port}`;

const dir = tempDir();
const token = 'odm-service-token';
const auth = { authorization: `Bearer ${token}` };
const dataDir = join(dir.path, 'data');
const args = ['--api-token', token];
let server: LightProcess = await startLight(dataDir, args);
t.teardown(async () => {
  const code = await server.stop();
  if (code !== 0) t.comment(`the server exited ${String(code)}:\n${server.log()}`);
  platform.closeAllConnections();
  platform.close();
  dir.remove();
});

for (const [name, command] of [['say-hi', 'echo hi'], ['break', 'echo broken; exit 3'], ['slow', 'sleep 0.3; echo slow']] as const) {
  const created = await call(server.url, 'POST', '/v1/jobs', { name, schedule: '@every 1h', executor: 'shell', executor_config: { command, shell: 'true' } }, auth);
  if (created.status !== 201) throw new Error(`create ${name}: ${created.status} ${created.text}`);
}

function postTask(body: unknown, headers: Record<string, string> = auth) {
  return call(server.url, 'POST', '/api/v1/up/executor/tasks', body, headers);
}

function delivered(path: string): Promise<CallbackSeen> {
  return until(`a callback on ${path} answered 200`, () => Promise.resolve(seen.find((s) => s.path === path && s.answered === 200)), 30_000);
}

async function jobExecutions(name: string): Promise<ExecutionJson[]> {
  return (await call(server.url, 'GET', `/v1/jobs/${name}/executions`, undefined, auth)).body as ExecutionJson[];
}

t.test('a task runs its job; the callback is retried until the platform answers 2xx', async (t) => {
  failFirst.set('/cb/t1', 2);
  const posted = await postTask({ taskId: 't1', taskType: 'say-hi', callbackRef: `${platformUrl}/cb/t1`, parameters: { env: 'prod' } });
  t.equal(posted.status, 201, posted.text);
  t.same(posted.body, { taskId: 't1', status: 'PROCESSING' });
  const cb = await delivered('/cb/t1');
  t.equal(seen.filter((s) => s.path === '/cb/t1').length, 3, 'two 500s, then the 200');
  t.match(cb.body, { taskId: 't1', status: 'PROCESSED', results: { output: 'hi\n' } });
  t.type(cb.body.results.executionTime, 'number');
  const [e] = await jobExecutions('say-hi');
  t.equal(cb.body.results.execution_id, e?.id, 'the execution that ran');
  const status = await until('the delivery to be recorded', async () => {
    const s = await call(server.url, 'GET', '/api/v1/up/executor/tasks/t1/status', undefined, auth);
    return (s.body as { callbackDelivered?: boolean }).callbackDelivered === true ? s : undefined;
  });
  t.match(status.body, { taskId: 't1', taskType: 'say-hi', status: 'PROCESSED', parameters: { env: 'prod' } }, 'the parameters are kept on the task');
});

t.test('a failing job is FAILED; the status says PROCESSING while it runs', async (t) => {
  const posted = await postTask({ taskId: 't-slow', taskType: 'slow', callbackRef: `${platformUrl}/cb/t-slow` });
  t.equal(posted.status, 201);
  const running = await call(server.url, 'GET', '/api/v1/up/executor/tasks/t-slow/status', undefined, auth);
  t.match(running.body, { status: 'PROCESSING' });
  await postTask({ taskId: 't-break', taskType: 'break', callbackRef: `${platformUrl}/cb/t-break` });
  const cb = await delivered('/cb/t-break');
  t.match(cb.body, { taskId: 't-break', status: 'FAILED', results: { output: /broken/ } });
  t.match((await delivered('/cb/t-slow')).body, { status: 'PROCESSED' });
});

t.test('a duplicate taskId is 409 and starts nothing; unknown taskType 422; malformed 400; unknown task 404', async (t) => {
  const before = (await jobExecutions('say-hi')).length;
  const dup = await postTask({ taskId: 't1', taskType: 'say-hi', callbackRef: `${platformUrl}/cb/dup` });
  t.equal(dup.status, 409, dup.text);
  t.equal((await jobExecutions('say-hi')).length, before, 'nothing started');
  const unknown = await postTask({ taskId: 't-unknown', taskType: 'no-such-job', callbackRef: `${platformUrl}/cb/u` });
  t.equal(unknown.status, 422, unknown.text);
  t.equal((await postTask('{"taskId": ')).status, 400, 'not JSON');
  t.equal((await postTask({ taskType: 'say-hi' })).status, 400, 'no taskId');
  t.equal((await postTask({ taskId: 'x', taskType: 'say-hi', callbackRef: 'ftp://nowhere' })).status, 400, 'a callbackRef that is not http(s)');
  t.equal((await postTask({ taskId: 'x', taskType: 'say-hi', parameters: [1] })).status, 400, 'parameters that are not an object');
  t.equal((await call(server.url, 'GET', '/api/v1/up/executor/tasks/nope/status', undefined, auth)).status, 404);
});

t.test('the routes honour the API token', async (t) => {
  t.equal((await postTask({ taskId: 't-anon', taskType: 'say-hi' }, {})).status, 401);
  t.equal((await call(server.url, 'GET', '/api/v1/up/executor/tasks/t1/status')).status, 401);
});

t.test('a pending callback survives kill -9: the restarted server delivers it', async (t) => {
  failFirst.set('/cb/t-crash', Infinity);
  t.equal((await postTask({ taskId: 't-crash', taskType: 'say-hi', callbackRef: `${platformUrl}/cb/t-crash` })).status, 201);
  await until('a refused callback', () => Promise.resolve(seen.find((s) => s.path === '/cb/t-crash')));
  await server.kill9();
  failFirst.set('/cb/t-crash', 0);
  server = await startLight(dataDir, args);
  const cb = await delivered('/cb/t-crash');
  t.match(cb.body, { taskId: 't-crash', status: 'PROCESSED', results: { output: 'hi\n' } });
});

t.test('with ACLs: run on the job taskType names; a task of a job the token may not read is unknown to it', async (t) => {
  t.ok((await call(server.url, 'POST', '/v1/acl/bootstrap', undefined, auth)).status < 300, 'bootstrapped');
  const put = await call(server.url, 'PUT', '/v1/acl/policies/say-run', { jobs: { 'say-': 'run' } }, auth);
  t.equal(put.status, 200, put.text);
  const made = await call(server.url, 'POST', '/v1/acl/tokens', { policies: ['say-run'], description: 'platform' }, auth);
  t.equal(made.status, 201, made.text);
  const platformToken = { authorization: `Bearer ${(made.body as { secret: string }).secret}` };
  const ok = await postTask({ taskId: 't-acl', taskType: 'say-hi', callbackRef: `${platformUrl}/cb/t-acl` }, platformToken);
  t.equal(ok.status, 201, ok.text);
  const denied = await postTask({ taskId: 't-acl-2', taskType: 'break' }, platformToken);
  t.equal(denied.status, 403, 'no run on the job "break"');
  t.match(denied.text, /needs run on/);
  t.equal((await call(server.url, 'GET', '/api/v1/up/executor/tasks/t-acl/status', undefined, platformToken)).status, 200);
  t.equal((await call(server.url, 'GET', '/api/v1/up/executor/tasks/t-break/status', undefined, platformToken)).status, 404, 'a task of a job it may not read');
  await delivered('/cb/t-acl');
});
