// A seeded fuzz run against a real light-mode server: a few thousand
// requests built from every route with broken paths, queries, headers and
// job bodies. It fails on any 5xx, any error answer that is not JSON, a
// crash or a hang. Replay a failure with CT_FUZZ_SEED=<seed> (and
// CT_FUZZ_REQUESTS=<n> for a longer run).

import t from 'tap';
import { connect } from 'node:net';
import { Pool } from 'undici';
import { startLight, tempDir } from '../support/light-process.js';

const seed = Number(process.env['CT_FUZZ_SEED'] ?? 20261203);
const total = Number(process.env['CT_FUZZ_REQUESTS'] ?? 4000);

/** mulberry32: a small seeded generator, so every run of a seed sends the same requests. */
function rng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const random = rng(seed);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
const chance = (p: number) => random() < p;

const names = ['fuzz-a', 'fuzz-b', 'fuzz_c', 'ghost', '%', '%zz', '%2F', '%00', '..', '.', '__proto__', 'constructor', 'ａ', 'ﬀ', 'x'.repeat(300), 'Has%20Space', '%E2%80%AE', 'a%2Fb', ''];
const ids = ['1', '0', '-1', 'abc', '%', '99999999999999999999', '1e3', '__proto__'];
const protoKeys = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'valueOf', 'toString', '__defineGetter__'];
const queryKeys = ['_sort', '_order', '_start', '_end', 'q', 'status', 'metadata', 'pretty', 'stale', 'days', 'limit', 'offset'];
const queryValues = ['', '1', '-1', 'NaN', '1e309', '99999999999999999999', 'asc', 'desc', 'name', 'next', 'success', 'failed', '%', '%zz', '\u0000', 'ａ', ...protoKeys];

/** A route and the method it answers (another method is sent now and then). */
function route(): [string, string] {
  const n = pick(names);
  const id = pick(ids);
  const routes: [string, string][] = [
    ['GET', '/health'], ['GET', '/v1'], ['GET', '/v1/'], ['GET', '/debug/vars'], ['GET', '/v1/members'], ['GET', '/v1/leader'], ['GET', '/v1/isleader'],
    ['GET', '/v1/agents'], ['GET', '/v1/plugins'], ['GET', '/v1/busy'], ['GET', '/v1/jobs'], ['POST', '/v1/jobs'], ['PATCH', '/v1/jobs'],
    ['GET', `/v1/jobs/${n}`], ['PUT', `/v1/jobs/${n}`], ['DELETE', `/v1/jobs/${n}`], ['POST', `/v1/jobs/${n}`], ['POST', `/v1/jobs/${n}/run`],
    ['POST', `/v1/jobs/${n}/toggle`], ['GET', `/v1/jobs/${n}/executions`], ['DELETE', `/v1/jobs/${n}/executions`],
    ['GET', `/v1/jobs/${n}/executions/${id}`], ['POST', `/v1/jobs/${n}/executions/${id}/stop`], ['GET', `/v1/jobs/${n}/skipped`],
    ['POST', '/v1/restore'], ['GET', '/v1/raft/peers'], ['DELETE', `/v1/raft/peers/${n}`], ['GET', '/nowhere'], ['GET', '//v1//jobs'],
    ['GET', '/v1/jobs/'], ['GET', '/v1/jobs/a/b/c/d'],
  ];
  const [method, template] = pick(routes);
  return [chance(0.15) ? pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']) : method, template];
}

function path(template: string): string {
  let p = template;
  if (chance(0.4)) {
    const parts: string[] = [];
    for (let i = 0, k = 1 + Math.floor(random() * 3); i < k; i++) parts.push(`${pick(queryKeys)}=${pick(queryValues)}`);
    p += `?${parts.join('&')}`;
  }
  // A client percent-encodes what is not printable ASCII (raw bytes are among the raw requests).
  return p.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
}

function value(depth = 0): unknown {
  const r = random();
  if (depth > 3 || r < 0.2) return pick([null, true, false, 0, -1, 1.5, 1e308, -1e308, 2 ** 53, '', 'x', '@every 1s', '0 * * * * *', '\u0000', 'ａ']);
  if (r < 0.3) return 'y'.repeat(Math.floor(random() * 5000));
  if (r < 0.5) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = 0, k = Math.floor(random() * 4); i < k; i++) o[chance(0.2) ? pick(protoKeys) : pick(['a', 'b', 'role', 'command', 'timeout', 'url'])] = value(depth + 1);
  return o;
}

const jobFields = ['name', 'displayname', 'timezone', 'schedule', 'owner', 'owner_email', 'disabled', 'tags', 'metadata', 'retries',
  'parent_job', 'processors', 'concurrency', 'executor', 'executor_config', 'ephemeral', 'starts_at', 'expires_at', 'catch_up', 'colour', ...protoKeys];

function jobBody(): string {
  // A valid, harmless job (a disabled shell `true`), then some fields broken.
  const job: Record<string, unknown> = {
    name: pick(['fuzz-a', 'fuzz-b', 'fuzz_c']), schedule: '@every 1h', disabled: true, executor: 'shell', executor_config: { command: 'true' },
  };
  for (let i = 0, k = Math.floor(random() * 3); i < k; i++) {
    const field = pick(jobFields);
    const v = pick<unknown>([
      value(), pick(['@every 99999999999h', '@every 0s', '61 * * * * *', '* * * * * * * *', '@yearly', 'TZ=Mars/Olympus 0 * * * *', '@every -1s']),
      pick(['Mars/Olympus', 'UTC', '', 'Europe/Berlin']), { command: pick(['true', '', 'x'.repeat(3000)]), timeout: pick(['soon', '600h', '-1s', '1e400h']) },
      pick(['allow', 'forbid', 'sometimes', '']), pick(['9999-99-99', '2026-13-40T25:61:61Z', '+275760-09-13T00:00:00.001Z']),
    ]);
    job[field] = v;
    // The one safe command: a fuzzed executor_config never runs anything else.
    if (field === 'executor_config' || field === 'executor') job['disabled'] = true;
  }
  if (job['executor'] === 'shell' && typeof job['executor_config'] === 'object' && job['executor_config'] !== null) {
    (job['executor_config'] as Record<string, unknown>)['command'] = 'true';
  }
  let text = JSON.stringify(job);
  if (chance(0.1)) text = text.slice(0, Math.floor(random() * text.length)); // torn JSON
  if (chance(0.05)) text = `{"__proto__": {"x": 1}, ${text.slice(1)}`;
  if (chance(0.05)) text = '['.repeat(5000) + ']'.repeat(5000);
  if (chance(0.05)) text = '\u0000\u00ff';
  return text;
}

interface Sent { method: string; path: string; headers: Record<string, string>; body?: string }

function request(): Sent {
  const [method, template] = route();
  const headers: Record<string, string> = { 'content-type': pick(['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1']) };
  if (chance(0.1)) headers['authorization'] = pick(['Bearer x', 'Basic Zm9vOmJhcg==', '', 'Bearer ' + 'z'.repeat(2000)]);
  if (chance(0.05)) headers['content-encoding'] = pick(['gzip', 'br', 'identity']);
  const sent: Sent = { method, path: path(template), headers };
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') sent.body = jobBody();
  return sent;
}

/** Raw requests that no client library would send. */
const rawRequests = [
  'GET http://[::1/v1/jobs HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /v1/jobs HTTP/1.1\r\nHost: x\r\nX: ' + 'h'.repeat(20_000) + '\r\n\r\n',
  'GET /v1/jobs HTTP/9.9\r\n\r\n',
  'POST /v1/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n',
  'POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
  'GET /v1/jobs/%zz HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /v1/jobs?_sort=__proto__ HTTP/1.1\r\nHost: x\r\n\r\n',
  '\u0000\u0001\u0002\r\n\r\n',
  'GET /v1/jobs/\u00ef\u00bc\u0081 HTTP/1.1\r\nHost: x\r\n\r\n',
];

function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`no answer to ${JSON.stringify(text.slice(0, 60))}`)); }, 15_000);
    s.on('data', (c: Buffer) => { got += c.toString('latin1'); });
    s.on('error', () => {});
    s.on('close', () => { clearTimeout(timer); resolve(got); });
    s.end(text);
  });
}

t.test(`fuzz: ${total} requests, seed ${seed}`, async (t) => {
  const dir = tempDir();
  t.teardown(() => dir.remove());
  const light = await startLight(dir.path);
  t.teardown(() => light.stop());
  const url = new URL(light.url);
  const pool = new Pool(light.url, { connections: 4, headersTimeout: 15_000, bodyTimeout: 15_000 });
  t.teardown(() => pool.close());
  const problems: string[] = [];
  const statuses = new Map<number, number>();
  for (let i = 0; i < total && problems.length < 10; i++) {
    const sent = request();
    if (process.env['CT_FUZZ_TRACE']) process.stderr.write(`#${i} ${sent.method} ${sent.path.slice(0, 100)} ${JSON.stringify(sent.headers).slice(0, 100)} ${sent.body?.slice(0, 100) ?? ''}\n`);
    try {
      const res = await pool.request({ method: sent.method as 'GET', path: sent.path, headers: sent.headers, ...(sent.body === undefined ? {} : { body: sent.body }) });
      const text = await res.body.text();
      if (process.env['CT_FUZZ_TRACE']) process.stderr.write(`  -> ${res.statusCode} ${text.slice(0, 150)}\n`);
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      const what = `#${i} ${sent.method} ${sent.path.slice(0, 120)} ${sent.body?.slice(0, 160) ?? ''} -> ${res.statusCode} ${text.slice(0, 200)}`;
      if (res.statusCode >= 500) problems.push(`5xx: ${what}`);
      else if (res.statusCode >= 400 && sent.method !== 'HEAD') {
        try {
          const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
          if (typeof body.error?.code !== 'string' || typeof body.error.message !== 'string') problems.push(`error without code and message: ${what}`);
        } catch {
          problems.push(`non-JSON error: ${what}`);
        }
      }
    } catch (err) {
      if (process.env['CT_FUZZ_TRACE']) process.stderr.write(`  !! ${(err as Error).message}\n`);
      problems.push(`#${i} ${sent.method} ${sent.path.slice(0, 120)}: ${(err as Error).message}`);
    }
  }
  for (const text of rawRequests) {
    try {
      const answer = await raw(Number(url.port), text);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
      if (status === 0 || status >= 500) problems.push(`raw ${JSON.stringify(text.slice(0, 60))} -> ${answer.slice(0, 200)}`);
      else if (!/\r\n\r\n\{"error"/.test(answer)) problems.push(`raw ${JSON.stringify(text.slice(0, 60))}: not a JSON error: ${answer.slice(0, 300)}`);
    } catch (err) {
      problems.push(`raw: ${(err as Error).message}`);
    }
  }
  t.same(problems, [], `no 5xx, non-JSON error, crash or hang (statuses: ${JSON.stringify(Object.fromEntries(statuses))})`);
  const health = await pool.request({ method: 'GET', path: '/health' });
  await health.body.text();
  t.equal(health.statusCode, 200, 'still up');
  t.equal(light.child.exitCode, null, 'never crashed');
});
