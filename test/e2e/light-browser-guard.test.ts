// What a web page could make a light server do without a token, against a
// real `clocktower light`: a text/plain job post (no preflight needed), a
// request from a foreign Origin, and a DNS-rebinding Host are refused and
// create nothing; JSON from the CLI, loopback and configured names work.

import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { call, mainJs, startLight, tempDir } from '../support/light-process.js';

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [mainJs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Raw { status: number; text: string; headers: Record<string, string | string[] | undefined>; code: string | undefined }

async function send(url: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Raw> {
  const res = await request(url + path, { method: method as 'POST', headers, ...(body === undefined ? {} : { body }) });
  const text = await res.body.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
  } catch {
    code = undefined;
  }
  return { status: res.statusCode, text, headers: res.headers, code };
}

const job = (name: string) => JSON.stringify({ name, schedule: '@manually', executor: 'shell', executor_config: { command: 'touch /tmp/ct-should-never-run' } });

t.test('browser-made requests against light mode', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const light = await startLight(dir.path, ['--api-allowed-hosts', 'ct.example.test,*.corp.example.test']);
  t.teardown(() => light.stop());
  const { port } = new URL(light.url);
  const names = async () => ((await call(light.url, 'GET', '/v1/jobs')).body as { name: string }[]).map((j) => j.name);

  t.test('a write must be application/json', async (t) => {
    for (const type of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', 'application/jsonx']) {
      const a = await send(light.url, 'POST', '/v1/jobs', { 'content-type': type }, job('from-a-page'));
      t.equal(a.status, 415, `${type}: 415`);
      t.equal(a.code, 'CT_API_UNSUPPORTED_MEDIA');
      t.match(a.text, /application\/json/, 'the error says what to send');
    }
    const none = await send(light.url, 'POST', '/v1/jobs', {}, job('from-a-page'));
    t.equal(none.status, 415, 'a body without a Content-Type');
    const put = await send(light.url, 'PUT', '/v1/jobs/from-a-page', { 'content-type': 'text/plain' }, job('from-a-page'));
    t.equal(put.status, 415, 'PUT too');
    const run = await send(light.url, 'POST', '/v1/jobs/whatever/run', { 'content-type': 'text/plain' }, 'x');
    t.equal(run.status, 415, 'a body on a route that reads none');
    t.same(await names(), [], 'nothing was created');
    t.equal((await send(light.url, 'POST', '/v1/jobs', { 'content-type': 'application/json; charset=UTF-8' }, job('json-utf8'))).status, 201, 'JSON with charset=utf-8');
    t.equal((await send(light.url, 'POST', '/v1/jobs', { 'content-type': 'Application/JSON' }, job('json-caps'))).status, 201, 'the type is case-insensitive');
    t.equal((await send(light.url, 'POST', '/v1/jobs/json-caps/toggle', {})).status, 200, 'a write without a body needs no type');
    t.equal((await send(light.url, 'DELETE', '/v1/jobs/json-caps', {})).status, 200);
    t.equal((await send(light.url, 'DELETE', '/v1/jobs/json-utf8', {})).status, 200);
  });

  t.test('a foreign Origin is refused', async (t) => {
    const json = { 'content-type': 'application/json' };
    for (const origin of ['http://evil.example', 'null', `http://127.0.0.1:${Number(port) + 1}`, `http://localhost:${port}`]) {
      const a = await send(light.url, 'POST', '/v1/jobs', { ...json, origin }, job('cross-origin'));
      t.equal(a.status, 403, `Origin ${origin}: 403`);
      t.equal(a.code, 'CT_API_CROSS_ORIGIN');
      t.match(a.text, origin);
    }
    const read = await send(light.url, 'GET', '/v1/jobs', { origin: 'http://evil.example' });
    t.equal(read.status, 403, 'reads from a foreign page too');
    const preflight = await send(light.url, 'OPTIONS', '/v1/jobs', { origin: 'http://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' });
    t.ok(preflight.status >= 400, `a preflight is not let through (${preflight.status})`);
    t.equal(preflight.headers['access-control-allow-origin'], undefined, 'and grants nothing');
    const plain = await send(light.url, 'OPTIONS', '/v1/jobs', {});
    t.equal(plain.headers['access-control-allow-origin'], undefined);
    t.same(await names(), [], 'nothing was created');
    const same = await send(light.url, 'POST', '/v1/jobs', { ...json, origin: `http://127.0.0.1:${port}` }, job('same-origin'));
    t.equal(same.status, 201, 'a page of this server itself may write');
    t.equal((await send(light.url, 'DELETE', '/v1/jobs/same-origin', { origin: `http://127.0.0.1:${port}` })).status, 200);
  });

  t.test('the Host must be a name this server answers to', async (t) => {
    const json = { 'content-type': 'application/json' };
    for (const host of [`rebind.attacker.example:${port}`, 'rebind.attacker.example', `ct.example.test.evil.example:${port}`, `corp.example.test:${port}`]) {
      const read = await send(light.url, 'GET', '/v1/jobs', { host });
      t.equal(read.status, 421, `GET with Host ${host}: 421`);
      t.equal(read.code, 'CT_API_HOST_NOT_ALLOWED');
      t.match(read.text, /--api-allowed-hosts/, 'the error names the flag');
      t.notMatch(read.text, /"name"/, 'no job data');
      const write = await send(light.url, 'POST', '/v1/jobs', { ...json, host }, job('rebound'));
      t.equal(write.status, 421, `POST with Host ${host}: 421`);
    }
    t.same(await names(), [], 'nothing was created');
    for (const host of [`localhost:${port}`, `LOCALHOST:${port}`, `app.localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `10.1.2.3:${port}`, `ct.example.test:${port}`, `a.corp.example.test:${port}`, `ct.example.test.:${port}`]) {
      t.equal((await send(light.url, 'GET', '/v1/jobs', { host })).status, 200, `Host ${host}: served`);
    }
    t.equal((await send(light.url, 'GET', '/health', { host: 'rebind.attacker.example' })).status, 200, '/health answers any Host');
    const sameName = await send(light.url, 'POST', '/v1/jobs', { ...json, host: `ct.example.test:${port}`, origin: `http://ct.example.test:${port}` }, job('by-name'));
    t.equal(sameName.status, 201, 'a page served under a configured name may write');
    t.equal((await send(light.url, 'DELETE', '/v1/jobs/by-name', {})).status, 200);
  });

  t.test('the CLI works as before', async (t) => {
    const file = join(dir.path, 'job.json');
    writeFileSync(file, JSON.stringify({ name: 'by-cli', schedule: '@manually', executor: 'shell', executor_config: { command: 'echo hi' } }));
    const address = ['--address', light.url];
    const put = await cli(['jobs', 'put', '-f', file, ...address]);
    t.equal(put.code, 0, put.stderr);
    const run = await cli(['jobs', 'run', 'by-cli', ...address]);
    t.equal(run.code, 0, run.stderr);
    const list = await cli(['jobs', 'list', ...address]);
    t.match(list.stdout, /by-cli/);
    const byName = await cli(['jobs', 'list', '--address', `http://localhost:${port}`]);
    t.equal(byName.code, 0, `by the name localhost: ${byName.stderr}`);
    const del = await cli(['jobs', 'delete', 'by-cli', ...address]);
    t.equal(del.code, 0, del.stderr);
  });
});

t.test('--api-allowed-hosts is checked at start', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const bad = await cli(['light', '--data-dir', dir.path, '--http-addr', '127.0.0.1:0', '--api-allowed-hosts', 'good.example,bad/name']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--api-allowed-hosts: "bad\/name" is not a host name/);
});
