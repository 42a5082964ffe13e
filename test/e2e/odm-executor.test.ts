// The `odm` executor against an Open Data Mesh executor service written
// here (node:http), with `clocktower light` as a real process: success,
// failure, never calls back (timeout), wrong token, a repeated PATCH,
// checkAfterCallback disagreeing, an error answer, an unreachable, unknown
// or inactive service, stop, save-time checks, and a kill -9 while a task
// waits (the restarted server waits on and takes the callback).

import t from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { call, startLight, tempDir, until, type ExecutionJson, type LightProcess } from '../support/light-process.js';
import { freePort } from '../support/free-port.js';

interface PostedTask {
  taskId: string;
  taskType: string;
  callbackRef: string;
  parameters: unknown;
}

// ---- the executor service -------------------------------------------------

const posted: PostedTask[] = [];
/** Task id -> the status GET .../status answers. */
const statusOf = new Map<string, string>();
const statusAsked: string[] = [];
let heldOnce = false;
const held: ServerResponse[] = [];

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    req.on('data', (c: Buffer) => (s += c.toString()));
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
}

const service = createServer((req: IncomingMessage, res: ServerResponse) => {
  void (async () => {
    const body = await readAll(req);
    const url = req.url ?? '';
    if (req.method === 'POST' && url === '/api/v1/up/executor/tasks') {
      const task = JSON.parse(body) as PostedTask;
      if (task.taskType === 'held' && !heldOnce) {
        // Taken but never answered, and not known: as if the server died before its POST arrived.
        heldOnce = true;
        held.push(res);
        return;
      }
      if (task.taskType === 'refuse') {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"the pipeline is broken"}');
        return;
      }
      posted.push(task);
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ taskId: task.taskId, status: 'PROCESSING' }));
      return;
    }
    const m = /^\/api\/v1\/up\/executor\/tasks\/([^/]+)\/status$/.exec(url);
    if (req.method === 'GET' && m?.[1]) {
      const id = decodeURIComponent(m[1]);
      statusAsked.push(id);
      if (!posted.some((p) => p.taskId === id)) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no such task"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ taskId: id, status: statusOf.get(id) ?? 'PROCESSED' }));
      return;
    }
    res.writeHead(404).end();
  })();
});
await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
const serviceUrl = `http://127.0.0.1:${(service.address() as AddressInfo).port}`;
const closedPort = await freePort();

// ---- the server, configured with a YAML file ---------------------------------

const dir = tempDir();
const token = 'odm-test-token';
const auth = { authorization: `Bearer ${token}` };
const configFile = join(dir.path, 'clocktower.yml');
writeFileSync(configFile, [
  'odm_executors:',
  '  svc:',
  '    active: true',
  `    address: ${serviceUrl}`,
  '    checkAfterCallback: false',
  '  checked:',
  '    active: true',
  `    address: ${serviceUrl}/`,
  '    checkAfterCallback: true',
  '  off:',
  '    active: false',
  `    address: ${serviceUrl}`,
  '',
].join('\n'));
const dataDir = join(dir.path, 'data');
const args = ['--config', configFile, '--api-token', token];
let server: LightProcess = await startLight(dataDir, args);
t.teardown(async () => {
  await server.stop();
  service.close();
  dir.remove();
});

async function odmJob(name: string, config: Record<string, string>): Promise<void> {
  const created = await call(server.url, 'POST', '/v1/jobs', { name, schedule: '@every 1h', executor: 'odm', executor_config: config }, auth);
  if (created.status !== 201) throw new Error(`create ${name}: ${created.status} ${created.text}`);
}

async function run(name: string): Promise<void> {
  const r = await call(server.url, 'POST', `/v1/jobs/${name}/run`, undefined, auth);
  if (r.status !== 202) throw new Error(`run ${name}: ${r.status} ${r.text}`);
}

async function jobExecutions(name: string): Promise<ExecutionJson[]> {
  const a = await call(server.url, 'GET', `/v1/jobs/${name}/executions`, undefined, auth);
  if (a.status !== 200) throw new Error(`executions of ${name}: ${a.status} ${a.text}`);
  return a.body as ExecutionJson[];
}

function finished(name: string): Promise<ExecutionJson> {
  return until(`${name} to finish`, async () => (await jobExecutions(name)).find((e) => e.finished_at !== null));
}

function postedFor(taskType: string, after = 0): Promise<PostedTask> {
  return until(`a ${taskType} task at the service`, () => Promise.resolve(posted.slice(after).find((p) => p.taskType === taskType)));
}

/** PATCH a callbackRef (or a URL made from one) as the service does: no API token. */
async function patch(url: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await request(url, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.statusCode, text: await res.body.text() };
}

t.test('success: the task is posted, the execution runs until the callback, output is the results', async (t) => {
  const before = posted.length;
  await odmJob('odm-ok', { service: 'svc', taskType: 'build', parameters: '{"branch":"main","n":2,"job":"{{job_name}}","try":{{attempt}}}', timeout: '1m' });
  await run('odm-ok');
  const task = await postedFor('build', before);
  t.match(task, { taskType: 'build', parameters: { branch: 'main', n: 2, job: 'odm-ok', try: 1 } }, 'parameters with their templates filled');
  t.ok(task.taskId.length > 10, 'a task id');
  t.ok(task.callbackRef.startsWith(`${server.url}/v1/odm/callbacks/`), `the callbackRef points at this server: ${task.callbackRef}`);
  const waiting = await jobExecutions('odm-ok');
  t.equal(waiting[0]?.state, 'running', 'running while the service works');

  const wrongToken = task.callbackRef.replace(/\/[^/]+$/, '/not-the-token');
  t.equal((await patch(wrongToken, { taskId: task.taskId, status: 'PROCESSED' })).status, 404, 'a wrong token is 404');
  const otherTask = task.callbackRef.replace(`/callbacks/${encodeURIComponent(task.taskId)}/`, '/callbacks/no-such-task/');
  t.equal((await patch(otherTask, { status: 'PROCESSED' })).status, 404, 'an unknown task is 404');
  t.equal((await patch(task.callbackRef, { taskId: task.taskId, status: 'DONE' })).status, 400, 'a bad status is 400');
  t.equal((await jobExecutions('odm-ok'))[0]?.state, 'running', 'none of that finished it');

  // ODM's own code names the task `id`.
  const ok = await patch(task.callbackRef, { id: task.taskId, status: 'PROCESSED', results: { artifact: 'app-1.2.tgz' } });
  t.equal(ok.status, 200, ok.text);
  const e = await finished('odm-ok');
  t.match(e, { success: true, state: 'succeeded', error: '' });
  const report = JSON.parse(e.output) as Record<string, unknown>;
  t.same(report['results'], { artifact: 'app-1.2.tgz' }, 'the output holds the results as JSON');
  t.equal(report['status'], 'PROCESSED');

  const again = await patch(task.callbackRef, { taskId: task.taskId, status: 'FAILED', errors: ['late'] });
  t.equal(again.status, 200, 'a repeated PATCH is 200');
  const after = await jobExecutions('odm-ok');
  t.equal(after.length, 1);
  t.match(after[0], { id: e.id, state: 'succeeded', output: e.output }, 'and changes nothing');
});

t.test('failure: FAILED fails the execution with the errors', async (t) => {
  const before = posted.length;
  await odmJob('odm-fail', { service: 'svc', taskType: 'deploy' });
  await run('odm-fail');
  const task = await postedFor('deploy', before);
  t.equal((await patch(task.callbackRef, { taskId: task.taskId, status: 'FAILED', results: {}, errors: ['quota exceeded'] })).status, 200);
  const e = await finished('odm-fail');
  t.match(e, { success: false, state: 'failed' });
  t.match(e.error, /svc.*FAILED.*quota exceeded/);
  t.match(e.output, /quota exceeded/);
});

t.test('never calls back: failed at the timeout, saying so', async (t) => {
  const before = posted.length;
  await odmJob('odm-silent', { address: serviceUrl, taskType: 'silent', timeout: '1s' });
  await run('odm-silent');
  const task = await postedFor('silent', before);
  const e = await finished('odm-silent');
  t.match(e, { success: false, state: 'failed' });
  t.match(e.error, /no callback for task .* within the timeout/);
  t.equal((await patch(task.callbackRef, { taskId: task.taskId, status: 'PROCESSED' })).status, 200, 'a callback after the timeout is answered');
  t.equal((await jobExecutions('odm-silent'))[0]?.state, 'failed', 'and changes nothing');
});

t.test('checkAfterCallback: the service says FAILED after a PROCESSED callback -> failed with both', async (t) => {
  const before = posted.length;
  await odmJob('odm-checked', { service: 'checked', taskType: 'verify' });
  await run('odm-checked');
  const task = await postedFor('verify', before);
  statusOf.set(task.taskId, 'FAILED');
  t.equal((await patch(task.callbackRef, { taskId: task.taskId, status: 'PROCESSED', results: { ok: true } })).status, 200);
  const e = await finished('odm-checked');
  t.ok(statusAsked.includes(task.taskId), 'the status was asked for');
  t.match(e, { success: false, state: 'failed' });
  t.match(e.error, /callback said PROCESSED but the service's status .* is FAILED/);

  // And when it agrees, the callback stands.
  const n = posted.length;
  await run('odm-checked');
  const second = await postedFor('verify', n);
  await patch(second.callbackRef, { taskId: second.taskId, status: 'PROCESSED' });
  const e2 = await until('the second run', async () => (await jobExecutions('odm-checked')).find((x) => x.id !== e.id && x.finished_at !== null));
  t.match(e2, { success: true });
});

t.test('an error answer, an unreachable, unknown or inactive service fail at once, naming it', async (t) => {
  await odmJob('odm-refused', { service: 'svc', taskType: 'refuse' });
  await run('odm-refused');
  const refused = await finished('odm-refused');
  t.match(refused, { state: 'failed' });
  t.match(refused.error, /"svc".*refused task .*500.*the pipeline is broken/);

  await odmJob('odm-unreachable', { address: `http://127.0.0.1:${closedPort}`, taskType: 'x' });
  await run('odm-unreachable');
  const unreachable = await finished('odm-unreachable');
  t.match(unreachable.error, new RegExp(`127\\.0\\.0\\.1:${closedPort} is unreachable.*ECONNREFUSED`));

  await odmJob('odm-unknown', { service: 'nope', taskType: 'x' });
  await run('odm-unknown');
  t.match((await finished('odm-unknown')).error, /"nope" is not configured in odm_executors \(known: svc, checked, off\)/);

  await odmJob('odm-off', { service: 'off', taskType: 'x' });
  await run('odm-off');
  t.match((await finished('odm-off')).error, /"off" is not active/);
});

t.test('stopping the execution stops the wait', async (t) => {
  const before = posted.length;
  await odmJob('odm-stop', { service: 'svc', taskType: 'long' });
  await run('odm-stop');
  await postedFor('long', before);
  const [e] = await jobExecutions('odm-stop');
  const stop = await call(server.url, 'POST', `/v1/jobs/odm-stop/executions/${e?.id ?? ''}/stop`, undefined, auth);
  t.ok(stop.status < 300, stop.text);
  const done = await finished('odm-stop');
  t.equal(done.state, 'stopped');
});

t.test('save-time checks of executor_config', async (t) => {
  const bad = async (config: Record<string, string>) => call(server.url, 'POST', '/v1/jobs', { name: 'odm-bad', schedule: '@every 1h', executor: 'odm', executor_config: config }, auth);
  const unknownKey = await bad({ service: 'svc', taskType: 'x', colour: 'red' });
  t.equal(unknownKey.status, 400);
  t.match(unknownKey.text, /unknown executor_config key \\?"colour\\?"/);
  t.equal((await bad({ service: 'svc' })).status, 400, 'taskType is needed');
  t.equal((await bad({ taskType: 'x' })).status, 400, 'a service or an address is needed');
  t.equal((await bad({ service: 'svc', taskType: 'x', parameters: '[1]' })).status, 400, 'parameters are an object');
  t.equal((await bad({ service: 'svc', taskType: 'x', timeout: 'soon' })).status, 400, 'a timeout is a duration');
});

t.test('kill -9 while a task waits: the restarted server waits on and takes the callback', async (t) => {
  const before = posted.length;
  await odmJob('odm-crash', { service: 'svc', taskType: 'crash', timeout: '10m' });
  await run('odm-crash');
  const task = await postedFor('crash', before);
  await server.kill9();
  server = await startLight(dataDir, args);
  const oldPort = new URL(task.callbackRef).port;
  const ref = task.callbackRef.replace(`:${oldPort}/`, `:${new URL(server.url).port}/`);
  t.equal((await jobExecutions('odm-crash'))[0]?.state, 'running', 'still running after the restart');
  t.equal(posted.length, before + 1, 'the task was not posted again');
  t.equal((await patch(ref, { taskId: task.taskId, status: 'PROCESSED', results: { after: 'restart' } })).status, 200);
  const e = await finished('odm-crash');
  t.match(e, { state: 'succeeded' });
  t.match(e.output, /restart/);
});

t.test('kill -9 after the wait was committed but before the service took the task: the restarted server posts it anew', async (t) => {
  const before = posted.length;
  await odmJob('odm-lost-post', { service: 'svc', taskType: 'held', timeout: '10m' });
  await run('odm-lost-post');
  await until('the held POST', () => Promise.resolve(held.length > 0 ? true : undefined));
  await server.kill9();
  for (const r of held) r.destroy();
  server = await startLight(dataDir, args);
  const task = await postedFor('held', before);
  t.ok(task.callbackRef.startsWith(`${server.url}/v1/odm/callbacks/`), 'posted by the restarted server, with its callback address');
  t.equal((await patch(task.callbackRef, { taskId: task.taskId, status: 'PROCESSED' })).status, 200);
  const e = await finished('odm-lost-post');
  t.match(e, { state: 'succeeded' });
  t.equal((await jobExecutions('odm-lost-post')).length, 1, 'the same execution, not a retry');
});
