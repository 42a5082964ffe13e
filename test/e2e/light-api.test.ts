// `clocktower light` as a real process: Dkron's job JSON and routes, bad input.

import t from 'tap';
import { FormData, request } from 'undici';
import { call, executions, startLight, tempDir, until, type ExecutionJson } from '../support/light-process.js';

const dir = tempDir();
const server = await startLight(dir.path);
t.teardown(async () => {
  await server.stop();
  dir.remove();
});
const url = server.url;

t.test('the README tour: a Dkron job posts unchanged and runs every second', async (t) => {
  const created = await call(url, 'POST', '/v1/jobs', '{"name":"hello","schedule":"@every 1s","executor":"shell","executor_config":{"command":"echo hi"}}');
  t.equal(created.status, 201);
  t.equal(created.headers['location'], '/v1/jobs/hello');
  t.match(created.body, { name: 'hello', id: 'hello', schedule: '@every 1s', status: '', concurrency: 'allow', executor: 'shell' });
  const runs = await until('two runs of hello', async () => {
    const list = (await executions(url, 'hello')).filter((e) => e.finished_at !== null);
    return list.length >= 2 ? list : undefined;
  });
  const e = runs[0]!;
  t.match(e, { job_name: 'hello', success: true, node_name: 'node1', attempt: 1, trigger: 'schedule', state: 'succeeded' });
  t.equal(e.output, 'hi\n');
  for (const field of ['id', 'group', 'started_at', 'finished_at', 'scheduled_at']) t.ok((e as unknown as Record<string, unknown>)[field], `has ${field}`);
  t.equal(new Date(e.scheduled_at).getTime() % 1000, new Date((created.body as { next: string }).next).getTime() % 1000, '@every keeps the phase of the job');
  const one = await call(url, 'GET', `/v1/jobs/hello/executions/${e.id}`);
  t.match(one.body, { id: e.id, output: 'hi\n' });
  const job = await call(url, 'GET', '/v1/jobs/hello');
  t.match(job.body, { status: 'success' });
  t.ok((job.body as { success_count: number }).success_count >= 2);
  const del = await call(url, 'DELETE', '/v1/jobs/hello');
  t.equal(del.status, 200);
  t.equal((await call(url, 'GET', '/v1/jobs/hello')).status, 404);
});

t.test('status routes', async (t) => {
  t.same((await call(url, 'GET', '/health')).body, { status: 'healthy' });
  t.match((await call(url, 'GET', '/v1/')).body, { agent: { name: 'node1' }, executors: ['gcppubsub', 'grpc', 'http', 'kafka', 'nats', 'odm', 'pubsub', 'rabbitmq', 'shell'] });
  const members = await call(url, 'GET', '/v1/members');
  t.match(members.body, [{ Name: 'node1', statusText: 'alive' }]);
  t.equal(members.headers['x-total-count'], '1');
  t.match((await call(url, 'GET', '/v1/leader')).body, { Name: 'node1' });
  const isLeader = await call(url, 'GET', '/v1/isleader');
  t.equal(isLeader.status, 200);
  t.equal(isLeader.body, 'I am a leader');
});

t.test('bad input gets a clear error and changes nothing', async (t) => {
  const before = (await call(url, 'GET', '/v1/jobs')).body as unknown[];
  const cases: [string, string | Uint8Array, number, string, string?][] = [
    ['malformed JSON', '{"name": "x",', 400, 'CT_API_BAD_JSON'],
    ['invalid cron', '{"name":"x","schedule":"61 * * * * *","executor":"shell","executor_config":{"command":"true"}}', 400, 'CT_SCHEDULE_INVALID', 'schedule'],
    ['unknown field', '{"name":"x","schedule":"@every 1s","colour":"red"}', 400, 'CT_API_UNKNOWN_FIELD', 'colour'],
    ['bad name', '{"name":"Has Space","schedule":"@every 1s"}', 400, 'CT_STATE_INVALID_JOB', 'name'],
    ['bad concurrency', '{"name":"x","schedule":"@every 1s","concurrency":"sometimes"}', 400, 'CT_API_INVALID_FIELD', 'concurrency'],
    ['bad timezone', '{"name":"x","schedule":"0 0 * * * *","timezone":"Mars/Olympus"}', 400, 'CT_SCHEDULE_INVALID', 'timezone'],
    ['bad shell timeout', '{"name":"x","schedule":"@every 1s","executor":"shell","executor_config":{"command":"true","timeout":"soon"}}', 400, 'CT_EXEC_CONFIG_INVALID', 'executor_config'],
    ['wrong type', '{"name":"x","schedule":"@every 1s","retries":"three"}', 400, 'CT_API_INVALID_FIELD', 'retries'],
    ['missing parent', '{"name":"x","parent_job":"ghost"}', 404, 'CT_STATE_PARENT_NOT_FOUND', 'parent_job'],
    ['oversize body', JSON.stringify({ name: 'x', schedule: '@every 1s', displayname: 'y'.repeat(2 * 1024 * 1024) }), 413, 'CT_API_BODY_TOO_LARGE'],
  ];
  for (const [what, body, status, code, field] of cases) {
    const a = await call(url, 'POST', '/v1/jobs', body);
    t.equal(a.status, status, `${what}: status`);
    const err = (a.body as { error: { code: string; message: string; field?: string } }).error;
    t.equal(err.code, code, `${what}: code`);
    t.ok(err.message.length > 0, `${what}: message "${err.message}"`);
    if (field) t.equal(err.field, field, `${what}: names the field`);
  }
  t.same((await call(url, 'GET', '/v1/jobs')).body, before, 'no job was created');
  const route = await call(url, 'GET', '/v1/nothing-here');
  t.equal(route.status, 404);
  t.equal((route.body as { error: { code: string } }).error.code, 'CT_API_NOT_FOUND');
  t.equal((await call(url, 'GET', '/v1/jobs/ghost')).status, 404);
  t.equal((await call(url, 'POST', '/v1/jobs/ghost/run')).status, 404);
});

t.test('parents: a child runs after its parent succeeds; deleting a parent is a conflict', async (t) => {
  t.equal((await call(url, 'POST', '/v1/jobs', { name: 'parent', schedule: '@manually', executor: 'shell', executor_config: { command: 'echo p' } })).status, 201);
  t.equal((await call(url, 'POST', '/v1/jobs', { name: 'child', parent_job: 'parent', executor: 'shell', executor_config: { command: 'echo c' } })).status, 201);
  t.match((await call(url, 'GET', '/v1/jobs/parent')).body, { dependent_jobs: ['child'] });
  const del = await call(url, 'DELETE', '/v1/jobs/parent');
  t.equal(del.status, 409);
  t.equal((del.body as { error: { code: string } }).error.code, 'CT_STATE_HAS_DEPENDENTS');
  const run = await call(url, 'POST', '/v1/jobs/parent/run');
  t.equal(run.status, 202);
  const childRuns = await until('the child to run', async () => {
    const list = (await executions(url, 'child')).filter((e) => e.finished_at !== null);
    return list.length > 0 ? list : undefined;
  });
  t.match(childRuns[0], { trigger: 'parent', success: true, output: 'c\n' });
});

t.test('executors: unknown executor, missing command, 50 MB of output', async (t) => {
  const jobs = [
    { name: 'no-such-executor', schedule: '@manually', executor: 'teleport' },
    { name: 'no-such-command', schedule: '@manually', executor: 'shell', executor_config: { command: 'definitely-not-a-command-xyz' } },
    { name: 'loud', schedule: '@manually', executor: 'shell', executor_config: { command: 'head -c 52428800 /dev/zero | tr "\\0" x', shell: 'true' } },
  ];
  for (const job of jobs) {
    t.equal((await call(url, 'POST', '/v1/jobs', job)).status, 201, `create ${job.name}`);
    t.equal((await call(url, 'POST', `/v1/jobs/${job.name}/run`)).status, 202, `run ${job.name}`);
  }
  const finished = (name: string) => until(`${name} to finish`, async () => (await executions(url, name)).find((e) => e.finished_at !== null), 60_000);
  const unknown = await finished('no-such-executor');
  t.equal(unknown.success, false);
  t.match(unknown.error, /teleport/);
  const missing = await finished('no-such-command');
  t.equal(missing.success, false);
  t.match(missing.error, /definitely-not-a-command-xyz/);
  const loud: ExecutionJson = await finished('loud');
  t.equal(loud.success, true);
  t.equal(loud.output_truncated, true);
  t.equal(loud.output.length, 256_000, 'the tail is kept up to the output limit');
  t.match(loud.output, /^x+$/);
  const limited = await call(url, 'GET', '/v1/jobs/loud/executions?output_size_limit=10');
  t.equal((limited.body as ExecutionJson[])[0]?.output, 'xxxxxxxxxx');
});

t.test('run answers at once; stop kills a running execution', async (t) => {
  await call(url, 'POST', '/v1/jobs', { name: 'slow', schedule: '@manually', executor: 'shell', executor_config: { command: 'sleep 60' } });
  const run = await call(url, 'POST', '/v1/jobs/slow/run');
  t.equal(run.status, 202);
  const running = await until('slow to be busy', async () => {
    const busy = (await call(url, 'GET', '/v1/busy')).body as ExecutionJson[];
    return busy.find((e) => e.job_name === 'slow');
  });
  const stop = await call(url, 'POST', `/v1/jobs/slow/executions/${running.id}/stop`);
  t.equal(stop.status, 202);
  const done = await until('slow to stop', async () => (await executions(url, 'slow')).find((e) => e.finished_at !== null));
  t.equal(done.state, 'stopped');
  t.equal((await call(url, 'POST', `/v1/jobs/slow/executions/${running.id}/stop`)).status, 409, 'stopping a finished run is a conflict');
});

t.test('forbid refuses a manual run while one is running', async (t) => {
  await call(url, 'POST', '/v1/jobs', { name: 'single', schedule: '@manually', concurrency: 'forbid', executor: 'shell', executor_config: { command: 'sleep 60' } });
  t.equal((await call(url, 'POST', '/v1/jobs/single/run')).status, 202);
  const second = await call(url, 'POST', '/v1/jobs/single/run');
  t.equal(second.status, 409);
  t.equal((second.body as { error: { code: string } }).error.code, 'CT_STATE_FORBID_RUNNING');
  const busy = (await call(url, 'GET', '/v1/busy')).body as ExecutionJson[];
  for (const e of busy.filter((b) => b.job_name === 'single')) await call(url, 'POST', `/v1/jobs/single/executions/${e.id}/stop`);
});

t.test('list filters, sorting, paging and toggle', async (t) => {
  for (const [name, team] of [['list-a', 'x'], ['list-b', 'y'], ['list-c', 'x']] as const) {
    await call(url, 'POST', '/v1/jobs', { name, schedule: '@manually', executor: 'shell', executor_config: { command: 'true' }, metadata: { team }, displayname: name.toUpperCase() });
  }
  const byMeta = await call(url, 'GET', '/v1/jobs?metadata[team]=x&_sort=name&_order=DESC');
  t.same((byMeta.body as { name: string }[]).map((j) => j.name), ['list-c', 'list-a']);
  const paged = await call(url, 'GET', '/v1/jobs?q=list-&_start=1&_end=2');
  t.equal(paged.headers['x-total-count'], '3');
  t.same((paged.body as { name: string }[]).map((j) => j.name), ['list-b']);
  const toggled = await call(url, 'POST', '/v1/jobs/list-b/toggle');
  t.match(toggled.body, { name: 'list-b', disabled: true });
  const disabled = await call(url, 'GET', '/v1/jobs?disabled=true&q=list-');
  t.same((disabled.body as { name: string }[]).map((j) => j.name), ['list-b']);
  t.equal((await call(url, 'GET', '/v1/jobs?_sort=colour')).status, 400);
});

t.test('restore: a Dkron export as a multipart file, parents before children', async (t) => {
  const file = JSON.stringify([
    { id: 'r-child', name: 'r-child', parent_job: 'r-parent', executor: 'shell', executor_config: { command: 'true' }, status: 'success', success_count: 4, next: '0001-01-01T00:00:00Z', last_success: null, dependent_jobs: null },
    { id: 'r-parent', name: 'r-parent', schedule: '0 30 2 * * *', timezone: 'Europe/Berlin', executor: 'shell', executor_config: { command: 'true' }, dependent_jobs: ['r-child'] },
  ]);
  const form = new FormData();
  form.set('file', new Blob([file], { type: 'application/json' }), 'jobs.json');
  const res = await request(`${url}/v1/restore`, { method: 'POST', body: form });
  const body = (await res.body.json()) as string[];
  t.equal(res.statusCode, 200);
  t.same(body, ['success create r-parent', 'success create r-child']);
  t.match((await call(url, 'GET', '/v1/jobs/r-parent')).body, { dependent_jobs: ['r-child'], timezone: 'Europe/Berlin' });
});

t.test('restore as Dkron does it: each job on its own, one bad job never sinks the rest', async (t) => {
  await call(url, 'POST', '/v1/jobs', { name: 'rs-old', schedule: '@every 1h', executor: 'shell', executor_config: { command: 'true' }, owner: 'before' });
  const file = JSON.stringify([
    { name: 'rs-good', schedule: '@every 1h', executor: 'shell', executor_config: { command: 'true' } },
    { name: 'rs-bad-cron', schedule: '61 * * * * *', executor: 'shell', executor_config: { command: 'true' } },
    { name: 'rs-orphan', parent_job: 'nobody', executor: 'shell', executor_config: { command: 'true' } },
    { name: 'rs-grandchild', parent_job: 'rs-orphan', executor: 'shell', executor_config: { command: 'true' } },
    { name: 'rs-loose', schedule: '@every 1h', executor: 'shell', executor_config: { command: 'true', timeout: 'soon' } },
    { name: 'rs-old', schedule: '@every 2h', executor: 'shell', executor_config: { command: 'true' }, owner: 'after' },
    { name: 'rs-tags', schedule: '@every 1h', executor: 'shell', executor_config: { command: 'true' }, tags: { role: 'web:x' } },
    'not a job',
  ]);
  const form = new FormData();
  form.set('file', new Blob([file], { type: 'application/json' }), 'jobs.json');
  const res = await request(`${url}/v1/restore`, { method: 'POST', body: form });
  t.equal(res.statusCode, 200);
  const lines = (await res.body.json()) as string[];
  t.equal(lines.length, 8, 'one line per job of the file');
  const line = (name: string) => lines.find((l) => l.includes(` ${name}`)) ?? '';
  t.equal(line('rs-good'), 'success create rs-good');
  t.match(line('rs-bad-cron'), /^fail create rs-bad-cron: /);
  t.match(line('rs-orphan'), /^fail create rs-orphan: specified parent job not found: nobody/);
  t.match(line('rs-grandchild'), /^fail create rs-grandchild: its parent rs-orphan was not restored/);
  t.match(line('rs-loose'), /^success create rs-loose, warning: executor_config: /, 'a stricter executor_config check is a warning on restore');
  t.equal(line('rs-old'), 'success create rs-old');
  t.match(line('rs-tags'), /^fail create rs-tags: tag role="web:x"/);
  t.ok(lines.some((l) => l.startsWith('fail create (job 8 of the file): ')));
  t.equal((await call(url, 'GET', '/v1/jobs/rs-good')).status, 200);
  t.match((await call(url, 'GET', '/v1/jobs/rs-loose')).body, { executor_config: { timeout: 'soon' } }, 'stored unchanged');
  t.match((await call(url, 'GET', '/v1/jobs/rs-old')).body, { owner: 'after', schedule: '@every 2h' }, 'an existing job is updated');
  for (const name of ['rs-bad-cron', 'rs-orphan', 'rs-grandchild', 'rs-tags']) t.equal((await call(url, 'GET', `/v1/jobs/${name}`)).status, 404, `${name} not stored`);
  const broken = new FormData();
  broken.set('file', new Blob(['{"name": "x"']), 'x.json');
  const bad = await request(`${url}/v1/restore`, { method: 'POST', body: broken });
  t.equal(bad.statusCode, 400, 'a file that is not JSON is still a 400');
  await bad.body.dump();
});

t.test('PUT /v1/jobs/{name}: create 201, replace 200, another name in the body 400', async (t) => {
  const job = { schedule: '@every 1h', executor: 'shell', executor_config: { command: 'true' } };
  const created = await call(url, 'PUT', '/v1/jobs/put-me', job);
  t.equal(created.status, 201);
  const replaced = await call(url, 'PUT', '/v1/jobs/put-me', { ...job, name: 'put-me', owner: 'me' });
  t.equal(replaced.status, 200);
  t.match(replaced.body, { name: 'put-me', owner: 'me' });
  const renamed = await call(url, 'PUT', '/v1/jobs/put-me', { ...job, name: 'other' });
  t.equal(renamed.status, 400);
  t.match(renamed.body, { error: { code: 'CT_API_INVALID_FIELD', field: 'name' } });
  t.equal((await call(url, 'GET', '/v1/jobs/other')).status, 404);
  t.equal((await call(url, 'PATCH', '/v1/jobs', { ...job, name: 'patched' })).status, 201, 'PATCH /v1/jobs is create-or-update');
});

t.test('a tag count that cannot work is a 400 at save time', async (t) => {
  const job = { name: 'tagged', schedule: '@every 1h', executor: 'shell', executor_config: { command: 'true' } };
  for (const role of ['web:x', 'web:0', 'web:-1']) {
    const res = await call(url, 'POST', '/v1/jobs', { ...job, tags: { role } });
    t.equal(res.status, 400, role);
    t.match(res.body, { error: { code: 'CT_API_INVALID_FIELD', field: 'tags' } });
  }
  t.equal((await call(url, 'GET', '/v1/jobs/tagged')).status, 404);
  t.equal((await call(url, 'POST', '/v1/jobs', { ...job, tags: { role: 'web:2' } })).status, 201);
});

t.test('pause and unpause: scheduled fires are skipped as paused, manual runs still work', async (t) => {
  t.same((await call(url, 'GET', '/v1/pause')).body, { paused: false });
  t.same((await call(url, 'POST', '/v1/pause')).body, { paused: true });
  t.same((await call(url, 'GET', '/v1/pause')).body, { paused: true });
  await call(url, 'POST', '/v1/jobs', { name: 'while-paused', schedule: '@every 1s', executor: 'shell', executor_config: { command: 'echo tick' } });
  const skipped = await until('two fires skipped as paused', async () => {
    const list = (await call(url, 'GET', '/v1/jobs/while-paused/skipped')).body as { reason: string; count: number }[];
    const paused = list.filter((s) => s.reason === 'paused').reduce((n, s) => n + s.count, 0);
    return paused >= 2 ? list : undefined;
  });
  t.ok(skipped.every((s) => s.reason === 'paused'), 'every skip says paused');
  t.same((await executions(url, 'while-paused')).filter((e) => e.trigger === 'schedule'), [], 'no scheduled run started');
  t.equal((await call(url, 'POST', '/v1/jobs/while-paused/run')).status, 202);
  const manual = await until('the manual run ran', async () => (await executions(url, 'while-paused')).find((e) => e.finished_at !== null));
  t.match(manual, { trigger: 'manual', output: 'tick\n' });
  t.same((await call(url, 'POST', '/v1/unpause')).body, { paused: false });
  await until('a scheduled run after unpause', async () => (await executions(url, 'while-paused')).find((e) => e.trigger === 'schedule' && e.finished_at !== null));
  await call(url, 'DELETE', '/v1/jobs/while-paused');
});

t.test('GET /v1/stats?days=N: executions per day, succeeded and failed', async (t) => {
  type Stats = { days: number; total: { succeeded: number; failed: number }; executions: { date: string; succeeded: number; failed: number }[] };
  const before = (await call(url, 'GET', '/v1/stats?days=2')).body as Stats;
  t.equal(before.executions.length, 2);
  t.match(before.executions[1]?.date, /^\d{4}-\d{2}-\d{2}$/);
  await call(url, 'POST', '/v1/jobs', { name: 'stat-ok', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } });
  await call(url, 'POST', '/v1/jobs', { name: 'stat-bad', schedule: '@manually', executor: 'shell', executor_config: { command: 'exit 3' } });
  for (const name of ['stat-ok', 'stat-ok', 'stat-bad']) {
    await call(url, 'POST', `/v1/jobs/${name}/run`);
    await until(`${name} finished`, async () => ((await executions(url, name)).every((e) => e.finished_at !== null) ? true : undefined));
  }
  const after = (await call(url, 'GET', '/v1/stats?days=2')).body as Stats;
  t.same(after.total, { succeeded: before.total.succeeded + 2, failed: before.total.failed + 1 }, 'moved by exactly the executions run');
  t.equal(((await call(url, 'GET', '/v1/stats')).body as Stats).executions.length, 7, 'a week by default');
  t.same(((await call(url, 'GET', '/v1/stats?days=2&job=stat-bad')).body as Stats).total, { succeeded: 0, failed: 1 }, 'one job');
  t.equal((await call(url, 'GET', '/v1/stats?job=no-such-job')).status, 404);
  for (const bad of ['0', '-1', 'x', '1.5', '367']) t.equal((await call(url, 'GET', `/v1/stats?days=${bad}`)).status, 400, `days=${bad}`);
});

t.test('delete executions', async (t) => {
  await call(url, 'POST', '/v1/jobs', { name: 'history', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } });
  await call(url, 'POST', '/v1/jobs/history/run');
  await until('history ran', async () => (await executions(url, 'history')).find((e) => e.finished_at !== null));
  const cleared = await call(url, 'DELETE', '/v1/jobs/history/executions');
  t.match(cleared.body, { success_count: 0, error_count: 0, status: '' });
  t.same(await executions(url, 'history'), []);
});
