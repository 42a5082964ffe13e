// What the web UI needs of the API, against `clocktower light` as a real
// process: the UI's files (redirects, CSP, gzip, no token needed), the
// schedule preview, the live output stream, and the jobs list's paging.

import t from 'tap';
import { request } from 'undici';
import { call, startLight, tempDir, until, type ExecutionJson } from '../support/light-process.js';
import { readSse } from '../support/sse.js';

const dir = tempDir();
const token = 'ui-test-token';
const server = await startLight(dir.path, ['--output-limit', '4096', '--api-token', token]);
t.teardown(async () => {
  await server.stop();
  dir.remove();
});
const url = server.url;
const auth = { authorization: `Bearer ${token}` };

interface Sse {
  events: { event: string; data: string }[];
  /** When each event arrived (ms since the request). */
  at: number[];
}

/** Read a server-sent-events answer to its end. */
async function stream(path: string, headers: Record<string, string> = auth): Promise<{ status: number; type: string; sse: Sse }> {
  const r = await readSse(url + path, headers);
  return { status: r.status, type: r.type, sse: { events: r.events.map(({ event, data }) => ({ event, data })), at: r.events.map((e) => e.at) } };
}

const output = (sse: Sse) => sse.events.filter((e) => e.event === 'output').map((e) => JSON.parse(e.data) as string).join('');

t.test('the UI is at /ui/, with redirects from / and /ui, a strict CSP, and no token needed', async (t) => {
  for (const path of ['/', '/ui']) {
    const r = await request(url + path);
    await r.body.dump();
    t.equal(r.statusCode, 302, path);
    t.equal(r.headers['location'], '/ui/', path);
  }
  const index = await call(url, 'GET', '/ui/');
  t.equal(index.status, 200);
  t.match(index.headers['content-type'], /^text\/html/);
  t.match(index.headers['content-security-policy'], /default-src 'self'/);
  t.match(index.text, /<script type="module" src="main.js"><\/script>/);
  const js = await call(url, 'GET', '/ui/main.js');
  t.equal(js.status, 200);
  t.match(js.headers['content-type'], /^text\/javascript/);
  t.match(js.text, /import .* from '\.\/jobs-page\.js'/, 'plain ES modules, as tsc wrote them');
  const gz = await request(`${url}/ui/style.css`, { headers: { 'accept-encoding': 'gzip' } });
  t.equal(gz.headers['content-encoding'], 'gzip');
  await gz.body.dump();
  const again = await request(`${url}/ui/main.js`, { headers: { 'if-none-match': String(js.headers['etag']) } });
  t.equal(again.statusCode, 304);
  await again.body.dump();
  const missing = await call(url, 'GET', '/ui/nope.js');
  t.equal(missing.status, 404);
  t.match(missing.body, { error: { code: 'CT_API_NOT_FOUND' } });
  t.equal((await call(url, 'GET', '/v1/jobs')).status, 401, 'the API itself still needs the token');
});

t.test('schedule preview: the next fire times by the scheduler, in the zone', async (t) => {
  const q = (p: Record<string, string>) => `/v1/schedule/preview?${new URLSearchParams(p).toString()}`;
  const berlin = await call(url, 'GET', q({ schedule: '0 30 2 * * *', timezone: 'Europe/Berlin', from: '2026-03-28T00:00:00Z', count: '3' }), undefined, auth);
  t.equal(berlin.status, 200);
  // 02:30 does not exist on 29 March 2026 in Berlin: it runs at the jump, 03:00 CEST (01:00Z).
  t.same((berlin.body as { next: string[] }).next, ['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
  t.equal((berlin.body as { description: string }).description, 'At 02:30 (Europe/Berlin time)', 'in words, with its zone');
  const ten = await call(url, 'GET', q({ schedule: '@every 90s', from: '2026-01-01T00:00:00Z' }), undefined, auth);
  t.equal((ten.body as { next: string[] }).next.length, 10, 'ten by default');
  t.equal((ten.body as { next: string[] }).next[1], '2026-01-01T00:03:00.000Z');
  t.equal((ten.body as { description: string }).description, 'Every 1 minute 30 seconds, counted from when the schedule was set');
  const once = await call(url, 'GET', q({ schedule: '@at 2026-06-01T10:00:00Z', from: '2026-01-01T00:00:00Z' }), undefined, auth);
  t.same((once.body as { next: string[] }).next, ['2026-06-01T10:00:00.000Z'], 'a one-off fires once');
  const manual = await call(url, 'GET', q({ schedule: '@manually' }), undefined, auth);
  t.same((manual.body as { next: string[] }).next, []);

  // A saved job's preview is what will fire: its own anchor, so its first time is the job's `next`.
  const saved = { name: 'hourly', schedule: '@every 1h', executor: 'shell', executor_config: { command: 'true' } };
  const created = await call(url, 'POST', '/v1/jobs', saved, auth);
  const mine = await call(url, 'GET', q({ schedule: '@every 1h', job: 'hourly', count: '2' }), undefined, auth);
  t.equal((mine.body as { next: string[] }).next[0], (created.body as { next: string }).next);

  const bad = await call(url, 'GET', q({ schedule: '61 * * * * *' }), undefined, auth);
  t.equal(bad.status, 400);
  t.match(bad.body, { error: { code: 'CT_SCHEDULE_INVALID', field: 'schedule', message: /can't parse job schedule "61 \* \* \* \* \*"/ } });
  const fields = await call(url, 'GET', q({ schedule: 'every minute' }), undefined, auth);
  t.match(fields.body, { error: { code: 'CT_SCHEDULE_INVALID', message: /has 2 fields/ } });
  const zone = await call(url, 'GET', q({ schedule: '@daily', timezone: 'Mars/Olympus' }), undefined, auth);
  t.equal(zone.status, 400);
  t.match(zone.body, { error: { code: 'CT_SCHEDULE_INVALID', field: 'timezone', message: /unknown time zone "Mars\/Olympus"/ } });
  t.match((await call(url, 'GET', '/v1/schedule/preview', undefined, auth)).body, { error: { code: 'CT_API_BAD_QUERY', field: 'schedule' } });
  t.match((await call(url, 'GET', q({ schedule: '@daily', count: '0' }), undefined, auth)).body, { error: { code: 'CT_API_BAD_QUERY', field: 'count' } });
  t.match((await call(url, 'GET', q({ schedule: '@daily', from: 'yesterday' }), undefined, auth)).body, { error: { code: 'CT_API_BAD_QUERY', field: 'from' } });
});

async function runAndWaitRunning(name: string): Promise<ExecutionJson> {
  const run = await call(url, 'POST', `/v1/jobs/${name}/run`, undefined, auth);
  if (run.status !== 202) throw new Error(`run ${name}: ${run.status} ${run.text}`);
  return until(`an execution of ${name}`, async () => {
    const list = (await call(url, 'GET', `/v1/jobs/${name}/executions`, undefined, auth)).body as ExecutionJson[];
    return list[0];
  });
}

t.test('the stream sends output while the execution runs, then its result', async (t) => {
  const job = { name: 'ticker', schedule: '@manually', executor: 'shell', executor_config: { shell: 'true', command: 'for i in 1 2 3 4 5 6; do echo line $i; sleep 0.1; done' } };
  t.equal((await call(url, 'POST', '/v1/jobs', job, auth)).status, 201);
  const e = await runAndWaitRunning('ticker');
  const live = await stream(`/v1/jobs/ticker/executions/${e.id}/stream`);
  t.equal(live.status, 200);
  t.match(live.type, /^text\/event-stream/);
  t.equal(output(live.sse), 'line 1\nline 2\nline 3\nline 4\nline 5\nline 6\n');
  const outputs = live.sse.events.filter((x) => x.event === 'output').length;
  t.ok(outputs >= 2, `output came in pieces as it was printed (${outputs} events)`);
  const done = live.sse.events.at(-1);
  t.equal(done?.event, 'done');
  t.match(JSON.parse(done?.data ?? '{}'), { id: e.id, state: 'succeeded', exit_code: 0, output_truncated: false });
  t.notOk('output' in JSON.parse(done?.data ?? '{}'), 'the result without its output');

  const replay = await stream(`/v1/jobs/ticker/executions/${e.id}/stream`);
  t.equal(output(replay.sse), 'line 1\nline 2\nline 3\nline 4\nline 5\nline 6\n', 'a finished execution answers its stored output');
  t.same(replay.sse.events.map((x) => x.event), ['output', 'done']);
});

t.test('the stream says when output was truncated', async (t) => {
  const job = { name: 'loud', schedule: '@manually', executor: 'shell', executor_config: { shell: 'true', command: 'head -c 20000 /dev/zero | tr "\\0" x; sleep 1; echo end' } };
  t.equal((await call(url, 'POST', '/v1/jobs', job, auth)).status, 201);
  const e = await runAndWaitRunning('loud');
  // Joined once more was printed than the server keeps: the stream starts with the kept tail and says so.
  await until('output beyond the limit', async () => {
    const now = (await call(url, 'GET', `/v1/jobs/loud/executions/${e.id}`, undefined, auth)).body as ExecutionJson;
    return now.output_truncated ? true : undefined;
  });
  const late = await stream(`/v1/jobs/loud/executions/${e.id}/stream`);
  t.equal(late.sse.events[0]?.event, 'truncated', 'a truncated event first');
  t.match(JSON.parse(late.sse.events[0]?.data ?? '{}'), { reason: /longer than the output limit/ });
  t.ok(output(late.sse).endsWith('xend\n'));
  t.ok(output(late.sse).length <= 4096 + 4, 'the kept tail and what came after');
  t.match(JSON.parse(late.sse.events.at(-1)?.data ?? '{}'), { state: 'succeeded', output_truncated: true });
});

t.test('a reader that joins at the start sees all of a long output, more than the server keeps', async (t) => {
  const job = { name: 'long', schedule: '@manually', executor: 'shell', executor_config: { shell: 'true', command: 'sleep 0.5; head -c 50000 /dev/zero | tr "\\0" y; echo end' } };
  t.equal((await call(url, 'POST', '/v1/jobs', job, auth)).status, 201);
  const e = await runAndWaitRunning('long');
  const live = await stream(`/v1/jobs/long/executions/${e.id}/stream`);
  const text = output(live.sse);
  t.ok(text.endsWith('yend\n'));
  // It joined during the sleep (before any output) unless the machine is slow: then it gets the tail, marked.
  if (live.sse.events.some((x) => x.event === 'truncated')) t.ok(text.length <= 4096 + 4);
  else t.equal(text.length, 50004, 'every byte, though the server keeps 4096');
});

t.test('the stream refuses what does not exist, and needs the token', async (t) => {
  const noJob = await call(url, 'GET', '/v1/jobs/nope/executions/1/stream', undefined, auth);
  t.equal(noJob.status, 404);
  t.match(noJob.body, { error: { code: 'CT_STATE_JOB_NOT_FOUND' } });
  const noExec = await call(url, 'GET', '/v1/jobs/ticker/executions/999/stream', undefined, auth);
  t.equal(noExec.status, 404);
  t.match(noExec.body, { error: { code: 'CT_API_EXECUTION_NOT_FOUND' } });
  t.equal((await call(url, 'GET', '/v1/jobs/ticker/executions/1/stream')).status, 401);
});

t.test('the jobs list pages, searches and sorts on the server', async (t) => {
  for (let i = 0; i < 12; i++) {
    const job = { name: `page-${String(i).padStart(2, '0')}`, schedule: '@manually', executor: 'shell', executor_config: { command: 'true' }, disabled: i % 3 === 0 };
    t.equal((await call(url, 'POST', '/v1/jobs', job, auth)).status, 201);
  }
  const page = await call(url, 'GET', '/v1/jobs?q=PAGE-&_sort=name&_order=DESC&_start=2&_end=5', undefined, auth);
  t.equal(page.headers['x-total-count'], '12');
  t.same((page.body as { name: string }[]).map((j) => j.name), ['page-09', 'page-08', 'page-07']);
  const disabled = await call(url, 'GET', '/v1/jobs?q=page-&disabled=true&_start=0&_end=50', undefined, auth);
  t.equal(disabled.headers['x-total-count'], '4');
  t.match((await call(url, 'GET', '/v1/jobs?_sort=colour', undefined, auth)).body, { error: { code: 'CT_API_BAD_QUERY', message: /cannot sort by colour/ } });
  t.match((await call(url, 'GET', '/v1/jobs?_start=-1', undefined, auth)).body, { error: { code: 'CT_API_BAD_QUERY', message: /_start must be a whole number/ } });
});
