// Careless and hostile requests against `clocktower light`: every one is a
// 4xx with a JSON body, nothing is stored, and the job list keeps working.

import { connect } from 'node:net';
import t from 'tap';
import { call, startLight, tempDir } from '../support/light-process.js';

const dir = tempDir();
const server = await startLight(dir.path);
t.teardown(async () => {
  await server.stop();
  dir.remove();
});
const url = server.url;
const { hostname, port } = new URL(url);

/** Send raw bytes and read the whole answer (the server closes the connection). */
function raw(bytes: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(bytes));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
}

function isJsonError(body: string): boolean {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    return typeof parsed.error?.code === 'string' && typeof parsed.error.message === 'string';
  } catch {
    return false;
  }
}

const job = (over: Record<string, unknown>) => JSON.stringify({ name: 'ok', schedule: '@every 1h', executor: 'shell', executor_config: { command: 'true' }, ...over });

t.test('bad percent-encoding in a path parameter is a 400, not a 500', async (t) => {
  t.equal((await call(url, 'POST', '/v1/jobs', job({ name: 'pct' }))).status, 201);
  for (const path of ['/v1/jobs/%', '/v1/jobs/%E0%A4%A', '/v1/jobs/%/executions', '/v1/jobs/pct/executions/%zz']) {
    const a = await call(url, 'GET', path);
    t.equal(a.status, 400, path);
    t.ok(isJsonError(a.text), `${path} answers a JSON error`);
  }
});

t.test('prototype names are not sort keys', async (t) => {
  t.equal((await call(url, 'POST', '/v1/jobs', job({ name: 'sorted' }))).status, 201);
  for (const key of ['__proto__', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'constructor', 'toString']) {
    const jobs = await call(url, 'GET', `/v1/jobs?_sort=${key}`);
    t.equal(jobs.status, 400, `jobs _sort=${key}`);
    t.ok(isJsonError(jobs.text));
    const runs = await call(url, 'GET', `/v1/jobs/sorted/executions?_sort=${key}`);
    t.equal(runs.status, 400, `executions _sort=${key}`);
    t.ok(isJsonError(runs.text));
  }
});

t.test('a request target that is not a URL, and what the HTTP parser refuses, answer JSON', async (t) => {
  const absolute = await raw('GET http://[::1/v1/jobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  t.equal(absolute.status, 400, 'absolute-form target that does not parse');
  t.ok(isJsonError(absolute.body), absolute.body);
  const garbage = await raw('NOT A REQUEST\r\n\r\n');
  t.equal(garbage.status, 400, 'a request line the parser refuses');
  t.ok(isJsonError(garbage.body), garbage.body);
  const huge = await raw(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  t.equal(huge.status, 431, 'oversize headers');
  t.ok(isJsonError(huge.body), huge.body);
  t.equal((await call(url, 'GET', '/health')).status, 200, 'and the server still answers');
});

t.test('__proto__ keys are refused with the field they are in', async (t) => {
  const cases: [string, string][] = [
    ['{"name":"p1","schedule":"@every 1h","executor":"shell","executor_config":{"command":"true","__proto__":"x"}}', 'executor_config.__proto__'],
    ['{"name":"p2","schedule":"@every 1h","executor":"shell","executor_config":{"command":"true"},"metadata":{"__proto__":"x"}}', 'metadata.__proto__'],
    ['{"name":"p3","schedule":"@every 1h","executor":"shell","executor_config":{"command":"true"},"tags":{"__proto__":"x"}}', 'tags.__proto__'],
    ['{"name":"p4","schedule":"@every 1h","executor":"shell","executor_config":{"command":"true"},"processors":{"__proto__":{}}}', 'processors.__proto__'],
  ];
  for (const [body, field] of cases) {
    const a = await call(url, 'POST', '/v1/jobs', body);
    t.equal(a.status, 400, field);
    t.match(a.body, { error: { field } });
  }
  const names = ((await call(url, 'GET', '/v1/jobs')).body as { name: string }[]).map((j) => j.name);
  t.notOk(names.some((n) => /^p\d$/.test(n)), 'none of them stored');
});

t.test('look-alike names are refused', async (t) => {
  for (const name of ['ａ', 'ﬀ', 'ſ', 'ǆ']) {
    const a = await call(url, 'POST', '/v1/jobs', job({ name }));
    t.equal(a.status, 400, JSON.stringify(name));
    t.match(a.body, { error: { field: 'name' } });
  }
});

t.test('a schedule whose times cannot be represented is refused and never breaks the list', async (t) => {
  for (const schedule of ['@every 99999999999h', '@every 876001h']) {
    const a = await call(url, 'POST', '/v1/jobs', job({ name: 'far', schedule }));
    t.equal(a.status, 400, schedule);
    t.match(a.body, { error: { code: 'CT_SCHEDULE_INVALID' } });
  }
  const longest = await call(url, 'POST', '/v1/jobs', job({ name: 'far', schedule: '@every 876000h' }));
  t.equal(longest.status, 201, 'the longest interval is accepted');
  const list = await call(url, 'GET', '/v1/jobs');
  t.equal(list.status, 200, 'the list still answers');
  t.ok((list.body as { name: string }[]).some((j) => j.name === 'far'));
});

t.test('a write too large for one log entry is refused with 413, nothing of it applied, and the log goes on', async (t) => {
  const bigDir = tempDir();
  const big = await startLight(bigDir.path, ['--max-body-bytes', '8000000']);
  t.teardown(async () => {
    await big.stop();
    bigDir.remove();
  });
  const jobs = Array.from({ length: 50 }, (_, i) => ({ name: `huge-${i}`, schedule: '@manually', executor: 'shell', executor_config: { command: `echo ${'x'.repeat(100_000)}` } }));
  const r = await call(big.url, 'POST', '/v1/restore', jobs);
  t.equal(r.status, 413, r.text.slice(0, 300));
  t.match(r.body, { error: { code: 'CT_CLUSTER_ENTRY_TOO_LARGE', message: /at most 4194304/ } });
  t.equal((await call(big.url, 'GET', '/v1/jobs/huge-0')).status, 404, 'nothing restored');
  t.equal((await call(big.url, 'POST', '/v1/restore', jobs.slice(0, 10))).status < 300, true, 'a smaller restore goes through');
  t.equal((await call(big.url, 'GET', '/v1/jobs/huge-9')).status, 200);
});
