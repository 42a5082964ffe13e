// Processors in `clocktower light` as a real process: a job's output goes to
// a file, to syslog and to Fluentd (real listeners); a broken processor is
// recorded on the execution and never loses its result; an unknown
// processor or a bad processor config is refused at save time.

import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { call, executions, startLight, tempDir, until } from '../support/light-process.js';
import { fluentForward, parseRfc5424, udpSyslog } from '../support/log-receivers.js';
import { freePort } from '../support/free-port.js';

const dir = tempDir();
const server = await startLight(join(dir.path, 'data'));
t.teardown(async () => {
  await server.stop();
  dir.remove();
});
const url = server.url;

async function runOnce(job: Record<string, unknown>) {
  const created = await call(url, 'POST', '/v1/jobs', { schedule: '@every 1h', executor: 'shell', ...job });
  if (created.status !== 201) throw new Error(`create ${String(job['name'])}: ${created.status} ${created.text}`);
  const run = await call(url, 'POST', `/v1/jobs/${String(job['name'])}/run`);
  if (run.status !== 202) throw new Error(`run ${String(job['name'])}: ${run.status} ${run.text}`);
  return until(`${String(job['name'])} to finish`, async () => (await executions(url, String(job['name']))).find((e) => e.finished_at !== null));
}

t.test('files: the output is written to log_dir and the record keeps the path', async (t) => {
  const logDir = join(dir.path, 'job-logs');
  const e = await runOnce({ name: 'to-file', executor_config: { command: 'echo hello from the job' }, processors: { files: { log_dir: logDir } } });
  const path = join(logDir, `to-file-${e.id}.log`);
  t.ok(existsSync(path), 'the file appears');
  t.equal(readFileSync(path, 'utf8'), 'hello from the job\n');
  t.match(e, { success: true, state: 'succeeded', output: path, error: '' });
  const job = await call(url, 'GET', '/v1/jobs/to-file');
  t.same((job.body as { processors: unknown }).processors, { files: { log_dir: logDir } }, 'the job keeps its processors');
});

t.test('syslog and fluent in one job, in order, to real listeners', async (t) => {
  const syslog = await udpSyslog();
  const fluent = await fluentForward();
  t.teardown(async () => {
    await syslog.close();
    await fluent.close();
  });
  const e = await runOnce({
    name: 'to-collectors',
    executor_config: { command: 'printf "one\\ntwo\\n"' },
    processors: { syslog: { url: `udp://127.0.0.1:${syslog.port}`, forward: 'true' }, fluent: { port: String(fluent.port), tag: 'ct.test' } },
  });
  t.match(e, { success: true, output: 'Output sent to Fluent', error: '' });
  const lines = (await syslog.inbox.atLeast(2)).map(parseRfc5424);
  t.same(lines.map((l) => l.message), ['one', 'two']);
  t.match(lines[0], { hostname: 'node1', params: { job: 'to-collectors', execution: e.id, success: 'true' } });
  const [message] = await fluent.inbox.atLeast(1);
  t.match(message, ['ct.test', { eventTime: [Math.floor(new Date(e.finished_at ?? 0).getTime() / 1000)] }, {
    host: 'node1', job_name: 'to-collectors', execution_id: e.id, success: true, message: 'one\ntwo\n',
  }], 'fluent got the output syslog forwarded');
});

t.test('a broken processor is recorded on the execution, and the result is kept', async (t) => {
  const port = await freePort();
  const e = await runOnce({
    name: 'broken-processor',
    executor_config: { command: 'echo still here' },
    processors: { syslog: { url: `tcp://127.0.0.1:${port}` }, log: { forward: 'true' } },
  });
  t.match(e, { success: true, state: 'succeeded', output: 'still here\n' });
  t.match(e.error, new RegExp(`^processor syslog failed: syslog tcp://127.0.0.1:${port}: connect ECONNREFUSED`));
  const job = await call(url, 'GET', '/v1/jobs/broken-processor');
  t.match(job.body, { status: 'success', success_count: 1 });
  t.equal(server.child.exitCode, null, 'the server is still up');
  t.equal((await call(url, 'GET', '/health')).status, 200);
});

t.test('a failed job with processors: both errors are on the record', async (t) => {
  const e = await runOnce({ name: 'fails', executor_config: { command: 'false' }, processors: { fluent: { port: String(await freePort()), forward: 'true' } } });
  t.match(e, { success: false, state: 'failed' });
  t.match(e.error, /^exit status 1; processor fluent failed: fluent 127\.0\.0\.1:\d+: connect ECONNREFUSED/);
});

t.test('an unknown processor or a bad processor config is a 400 and saves nothing', async (t) => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ processors: { elasticsearch: {} } }, /unknown processor "elasticsearch" \(available: files, fluent, log, syslog\)/],
    [{ processors: { syslog: { url: 'udp//nowhere' } } }, /processor syslog: url must look like/],
    [{ processors: { files: { log_dir: 'relative' } } }, /log_dir must be an absolute path/],
  ];
  for (const [job, message] of cases) {
    const a = await call(url, 'POST', '/v1/jobs', { name: 'refused', schedule: '@every 1h', executor: 'shell', executor_config: { command: 'true' }, ...job });
    t.equal(a.status, 400);
    t.match((a.body as { error: unknown }).error, { code: 'CT_API_INVALID_FIELD', field: 'processors', message });
  }
  t.equal((await call(url, 'GET', '/v1/jobs/refused')).status, 404);
});
