// Metrics and logs of a real `clocktower light` process: real executions
// (succeeded, failed, scheduled), GET /metrics parsed as the Prometheus text
// format, counters that moved by exactly the executions run (and that a
// restart, which replays the log, does not count again), and JSON log lines
// with one start and one finish line per execution and no secret in them.
import t from 'tap';
import { call, startLight, tempDir, until, type LightProcess } from '../support/light-process.js';
import { parsePrometheusText, type Exposition } from '../support/prometheus-text.js';
import { freePort } from '../support/free-port.js';

const token = 'api-token-for-the-metrics-test-5150';
const envPassword = 'env-password-value-9917';
const urlPassword = 'url-password-value-4242';
const auth = { authorization: `Bearer ${token}` };
const dir = tempDir('ct-metrics-');
let light: LightProcess = await startLight(dir.path, ['--log-format', 'json', '--log-level', 'debug', '--api-token', token]);
t.teardown(async () => {
  await light.kill9().catch(() => {});
  dir.remove();
});

async function scrape(): Promise<Exposition> {
  const a = await call(light.url, 'GET', '/metrics', undefined, auth);
  if (a.status !== 200) throw new Error(`/metrics: ${a.status} ${a.text}`);
  t.match(String(a.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(a.text);
}

async function put(job: Record<string, unknown>): Promise<void> {
  const a = await call(light.url, 'POST', '/v1/jobs', { schedule: '@manually', executor: 'shell', ...job }, auth);
  if (a.status !== 201) throw new Error(`create ${String(job['name'])}: ${a.status} ${a.text}`);
}

async function runAndWait(name: string, finishedBefore: number): Promise<void> {
  const a = await call(light.url, 'POST', `/v1/jobs/${name}/run`, undefined, auth);
  if (a.status !== 202) throw new Error(`run ${name}: ${a.status} ${a.text}`);
  await finished(name, finishedBefore + 1);
}

async function finished(name: string, count: number): Promise<void> {
  await until(`${count} finished executions of ${name}`, async () => {
    const list = await call(light.url, 'GET', `/v1/jobs/${name}/executions`, undefined, auth);
    const done = (list.body as { finished_at: string | null }[]).filter((e) => e.finished_at !== null).length;
    return done >= count ? true : undefined;
  });
}

/** Every line of the log, each of which must be one JSON object. */
function logLines(): Record<string, unknown>[] {
  return light.log().split('\n').filter((l) => l !== '').map((l) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      throw new Error(`not a JSON log line: ${l}`);
    }
  });
}

t.test('/metrics needs the API token like every other route', async (t) => {
  const a = await call(light.url, 'GET', '/metrics');
  t.equal(a.status, 401);
});

t.test('counters move by exactly the executions run; the log has a start and a finish line for each', async (t) => {
  const closedPort = await freePort();
  await put({ name: 'ok', executor_config: { command: 'true', env: `DB_PASSWORD=${envPassword}` } });
  await put({ name: 'bad', executor_config: { command: 'sh -c "exit 3"' } });
  await put({ name: 'unreachable', executor: 'http', executor_config: { method: 'GET', url: `http://user:${urlPassword}@127.0.0.1:${closedPort}/`, timeout: '2' } });
  const at = new Date(Date.now() + 1500).toISOString().replace(/\.\d+Z$/, 'Z');
  await put({ name: 'once', schedule: `@at ${at}`, executor_config: { command: 'true' } });

  const before = await scrape();
  t.equal(before.types.get('dkron_job_executions_succeeded_total'), 'counter');
  t.equal(before.types.get('clocktower_fire_lateness_seconds'), 'histogram');
  t.equal(before.value('dkron_job_executions_succeeded_total', { job_name: 'ok' }), 0);

  for (let i = 0; i < 3; i++) await runAndWait('ok', i);
  for (let i = 0; i < 2; i++) await runAndWait('bad', i);
  await runAndWait('unreachable', 0);
  await finished('once', 1);

  const m = await scrape();
  t.equal(m.value('dkron_job_executions_succeeded_total', { job_name: 'ok' }), 3);
  t.equal(m.value('dkron_job_executions_failed_total', { job_name: 'ok' }), 0);
  t.equal(m.value('dkron_job_executions_failed_total', { job_name: 'bad' }), 2);
  t.equal(m.value('dkron_job_executions_succeeded_total', { job_name: 'bad' }), 0);
  t.equal(m.value('dkron_job_executions_failed_total', { job_name: 'unreachable' }), 1);
  t.equal(m.value('dkron_job_executions_succeeded_total', { job_name: 'once' }), 1);
  t.equal(m.value('dkron_job_exit_code', { job_name: 'bad' }), 3);
  t.equal(m.value('dkron_job_exit_code', { job_name: 'ok' }), 0);
  t.ok(m.has('dkron_job_execution_time_seconds', { job_name: 'ok' }));
  t.equal(m.value('clocktower_executions_total', { state: 'succeeded', executor: 'shell' }), 4);
  t.equal(m.value('clocktower_executions_total', { state: 'failed', executor: 'shell' }), 2);
  t.equal(m.value('clocktower_executions_total', { state: 'failed', executor: 'http' }), 1);
  t.equal(m.value('clocktower_fires_total', { trigger: 'manual' }), 6);
  t.equal(m.value('clocktower_fires_total', { trigger: 'schedule' }), 1);
  t.equal(m.value('clocktower_fire_lateness_seconds_count'), 1, 'one scheduled execution started');
  t.equal(m.value('clocktower_executions_running'), 0);
  t.equal(m.value('clocktower_raft_leader'), 1);
  t.ok(m.value('clocktower_raft_term') >= 1);
  t.ok(m.value('clocktower_raft_applied_index') >= 11, 'at least the 4 jobs, 7 fires and their results');
  t.equal(m.value('clocktower_raft_commit_index'), m.value('clocktower_raft_applied_index'));
  t.ok(m.value('clocktower_raft_fsync_seconds_count') >= 1);
  t.ok(m.value('clocktower_raft_entries_per_batch_sum') >= m.value('clocktower_raft_applied_index') - 1);
  t.equal(m.value('clocktower_raft_leader_changes_total'), 1);
  // Routes by their pattern, never the raw path.
  t.equal(m.value('clocktower_http_requests_total', { method: 'POST', route: '/v1/jobs/{name}/run', status: '202' }), 6);
  t.equal(m.value('clocktower_http_requests_total', { method: 'POST', route: '/v1/jobs', status: '201' }), 4);
  t.equal(m.value('clocktower_http_requests_total', { method: 'GET', route: '/metrics', status: '401' }), 1);
  t.notOk(m.samples.some((s) => s.labels['route']?.includes('/ok/')), 'no raw path as a label');
  t.ok(m.value('clocktower_http_request_duration_seconds_count', { method: 'POST', route: '/v1/jobs/{name}/run' }) === 6);
  t.ok(m.has('process_resident_memory_bytes'), 'process metrics too');

  const lines = logLines();
  const all = [] as { id: string; job: string; state: string }[];
  for (const name of ['ok', 'bad', 'unreachable', 'once']) {
    const list = await call(light.url, 'GET', `/v1/jobs/${name}/executions`, undefined, auth);
    for (const e of list.body as { id: string; state: string }[]) all.push({ id: e.id, job: name, state: e.state });
  }
  t.equal(all.length, 7);
  for (const e of all) {
    const started = lines.filter((l) => l['event'] === 'execution_started' && l['execution'] === e.id);
    const done = lines.filter((l) => l['event'] === 'execution_finished' && l['execution'] === e.id);
    t.equal(started.length, 1, `one start line for execution ${e.id}`);
    t.equal(done.length, 1, `one finish line for execution ${e.id}`);
    t.match(started[0], { level: 'info', msg: 'execution started', job: e.job, node: 'node1' });
    t.match(done[0], { level: 'info', msg: 'execution finished', job: e.job, node: 'node1', state: e.state, duration_ms: Number });
    t.match(done[0]?.['time'], /^\d{4}-\d\d-\d\dT/);
  }
  t.ok(lines.some((l) => l['event'] === 'leadership_changed' && l['leading'] === true), 'the leadership line');
  t.ok(lines.some((l) => l['event'] === 'api_request' && l['level'] === 'debug' && l['route'] === '/v1/jobs/{name}/run' && l['status'] === 202), 'requests at debug');
  t.ok(lines.some((l) => typeof l['msg'] === 'string' && l['msg'].includes('API on http://')), 'the startup line, in JSON');
  const text = light.log();
  for (const secret of [token, envPassword, urlPassword]) t.notOk(text.includes(secret), `no ${secret} in the log`);
});

t.test('skipped fires are counted by reason, as recorded', async (t) => {
  await put({ name: 'slow', schedule: '@every 1s', concurrency: 'forbid', executor_config: { command: 'sleep 2' } });
  await until('a fire of slow skipped while it runs', async () => {
    const a = await call(light.url, 'GET', '/v1/jobs/slow/skipped', undefined, auth);
    return (a.body as unknown[]).length > 0 ? true : undefined;
  });
  t.equal((await call(light.url, 'POST', '/v1/jobs/slow/toggle', undefined, auth)).status, 200);
  await until('slow to stop running', async () => {
    const a = await call(light.url, 'GET', '/v1/jobs/slow/executions', undefined, auth);
    return (a.body as { finished_at: string | null }[]).every((e) => e.finished_at !== null) ? true : undefined;
  });
  const skipped = (await call(light.url, 'GET', '/v1/jobs/slow/skipped', undefined, auth)).body as { reason: string; count: number }[];
  const ran = ((await call(light.url, 'GET', '/v1/jobs/slow/executions', undefined, auth)).body as unknown[]).length;
  const m = await scrape();
  const byReason = new Map<string, number>();
  for (const s of skipped) byReason.set(s.reason, (byReason.get(s.reason) ?? 0) + s.count);
  t.ok(byReason.get('forbid_running'), 'fires skipped because the job was running');
  for (const [reason, n] of byReason) t.equal(m.value('clocktower_fires_skipped_total', { reason }), n, `skips for ${reason}`);
  t.equal(m.value('clocktower_fires_total', { trigger: 'schedule' }), 1 + ran, 'once, and every fire of slow that ran');
  t.equal(m.value('clocktower_fire_lateness_seconds_count'), 1 + ran);
});

t.test('a restart replays the log without counting the executions again', async (t) => {
  await light.stop();
  light = await startLight(dir.path, ['--log-format', 'json', '--api-token', token]);
  const m = await scrape();
  t.equal(m.value('dkron_job_executions_succeeded_total', { job_name: 'ok' }), 0);
  t.equal(m.value('dkron_job_executions_failed_total', { job_name: 'bad' }), 0);
  t.equal(m.value('clocktower_fires_total', { trigger: 'manual' }), 0);
  await runAndWait('ok', 3);
  const after = await scrape();
  t.equal(after.value('dkron_job_executions_succeeded_total', { job_name: 'ok' }), 1);
  t.notOk(light.log().split('\n').some((l) => l.includes('"execution_finished"') && !l.includes('"job":"ok"')), 'only the new execution is logged');
  t.notMatch(light.log(), /"level":"debug"/, 'no debug lines at the default level');
});

t.test('--log-level and --log-format are checked', async (t) => {
  const d = tempDir('ct-metrics-bad-');
  t.teardown(() => d.remove());
  await t.rejects(startLight(d.path, ['--log-level', 'loud']), /--log-level must be one of debug, info, warn, error, not "loud"/);
  await t.rejects(startLight(d.path, ['--log-format', 'xml']), /--log-format must be one of json, text, not "xml"/);
});
