// Workflows against a real `clocktower light` process: a diamond, a failure
// branch, a decision by output, parameters through templates, the shell's
// environment and ::set-param, stop and restart, a Dkron parent/child chain,
// validation, and the CLI.

import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { call, executions, mainJs, startLight, tempDir, until, type ExecutionJson } from '../support/light-process.js';

const dir = tempDir();
const server = await startLight(dir.path);
t.teardown(async () => {
  await server.stop();
  dir.remove();
});
const url = server.url;

interface TaskJson { job: string; state: string; execution_id: string | null; attempt: number; reason: string; params_out: Record<string, string>; started_at: string | null; finished_at: string | null }
interface RunJson { id: string; root_job: string; state: string; parameters: Record<string, string>; created_at: string; finished_at: string | null; tasks: TaskJson[] }

async function put(job: Record<string, unknown>): Promise<void> {
  const res = await call(url, 'POST', '/v1/jobs', { executor: 'shell', ...job });
  if (res.status !== 201) throw new Error(`put ${String(job['name'])}: ${res.status} ${res.text}`);
}
const sh = (command: string) => ({ command, shell: 'true' });

/** Run the root; wait for its run to end; return it. */
async function runToEnd(root: string, body?: unknown): Promise<RunJson> {
  const res = await call(url, 'POST', `/v1/jobs/${root}/run`, body);
  if (res.status !== 202) throw new Error(`run ${root}: ${res.status} ${res.text}`);
  const id = (res.body as { run_id?: string }).run_id;
  if (id === undefined) throw new Error(`run ${root} started no run: ${res.text}`);
  return until(`run ${id} of ${root} to end`, async () => {
    const run = (await call(url, 'GET', `/v1/runs/${id}`)).body as RunJson;
    return run.state === 'running' ? undefined : run;
  });
}
const byJob = (run: RunJson) => Object.fromEntries(run.tasks.map((x) => [x.job, x]));
const ms = (s: string | null) => (s === null ? NaN : Date.parse(s));

t.test('a diamond: D runs once, after both B and C', async (t) => {
  await put({ name: 'dia-a', schedule: '@manually', executor_config: sh('echo a') });
  await put({ name: 'dia-b', depends_on: [{ job: 'dia-a' }], executor_config: sh('sleep 0.3; echo b') });
  await put({ name: 'dia-c', depends_on: [{ job: 'dia-a', on: 'success' }], executor_config: sh('echo c') });
  await put({ name: 'dia-d', depends_on: [{ job: 'dia-b' }, { job: 'dia-c' }], trigger_rule: 'all', executor_config: sh('echo d') });
  const job = (await call(url, 'GET', '/v1/jobs/dia-d')).body as Record<string, unknown>;
  t.match(job, { parent_job: '', trigger_rule: 'all', depends_on: [{ job: 'dia-b', on: 'success' }, { job: 'dia-c', on: 'success' }] });
  t.match((await call(url, 'GET', '/v1/jobs/dia-a')).body, { dependent_jobs: ['dia-b', 'dia-c'] });
  const run = await runToEnd('dia-a');
  t.equal(run.state, 'succeeded');
  t.same(run.tasks.map((x) => [x.job, x.state]), [['dia-a', 'succeeded'], ['dia-b', 'succeeded'], ['dia-c', 'succeeded'], ['dia-d', 'succeeded']]);
  const tasks = byJob(run);
  t.ok(ms(tasks['dia-d']?.started_at ?? null) >= ms(tasks['dia-b']?.finished_at ?? null), 'D started after B ended');
  t.ok(ms(tasks['dia-d']?.started_at ?? null) >= ms(tasks['dia-c']?.finished_at ?? null), 'D started after C ended');
  const d = await executions(url, 'dia-d');
  t.equal(d.length, 1, 'D ran once');
  for (const name of ['dia-a', 'dia-b', 'dia-c', 'dia-d']) {
    const [e] = (await executions(url, name)) as (ExecutionJson & { run_id?: string })[];
    t.equal(e?.run_id, run.id, `${name}'s execution carries the run id`);
  }
  const list = await call(url, 'GET', '/v1/runs?job=dia-a&_start=0&_end=1');
  t.equal(list.headers['x-total-count'], '1');
  t.match(list.body, [{ id: run.id, root_job: 'dia-a' }]);
  t.match((await call(url, 'GET', '/v1/runs?state=failed&job=dia-a')).body, []);
});

t.test('an on:failure branch takes the failure; the success path is skipped with a reason', async (t) => {
  await put({ name: 'fb-root', schedule: '@manually', executor_config: sh('echo failing; exit 3') });
  await put({ name: 'fb-ok', depends_on: [{ job: 'fb-root' }], executor_config: sh('echo ok') });
  await put({ name: 'fb-after-ok', depends_on: [{ job: 'fb-ok' }], executor_config: sh('echo never') });
  await put({ name: 'fb-handler', depends_on: [{ job: 'fb-root', on: 'failure', exit_code: 3 }], executor_config: sh('echo handled') });
  const run = await runToEnd('fb-root');
  const tasks = byJob(run);
  t.match(tasks, {
    'fb-root': { state: 'failed' },
    'fb-ok': { state: 'skipped', reason: 'fb-root failed and the edge wants success' },
    'fb-after-ok': { state: 'skipped', reason: 'fb-ok skipped and the edge wants success' },
    'fb-handler': { state: 'succeeded' },
  });
  t.equal(run.state, 'succeeded', 'the failure was taken by the handler');
  t.equal((await executions(url, 'fb-ok')).length, 0, 'a skipped task never ran');
});

t.test('a decision by output_matches', async (t) => {
  await put({ name: 'dec-root', schedule: '@manually', executor_config: sh('echo route=left') });
  await put({ name: 'dec-left', depends_on: [{ job: 'dec-root', output_matches: '^route=left$' }], executor_config: sh('echo L') });
  await put({ name: 'dec-right', depends_on: [{ job: 'dec-root', output_matches: '^route=right$' }], executor_config: sh('echo R') });
  const run = await runToEnd('dec-root');
  t.match(byJob(run), { 'dec-left': { state: 'succeeded' }, 'dec-right': { state: 'skipped', reason: /does not match/ } });
  t.equal(run.state, 'succeeded');
});

t.test('parameters: from the run request to a shell task, through ::set-param to the next', async (t) => {
  await put({
    name: 'par-root', schedule: '@manually', parameters: { who: 'nobody', greeting: 'hello' },
    executor_config: sh('echo "{{ .Params.greeting }} {{ .Params.who }} env=$CLOCKTOWER_PARAM_WHO job={{ .Job.Name }}"; echo "::set-param batch=b-{{ .Run.ID }}"'),
  });
  await put({ name: 'par-next', depends_on: [{ job: 'par-root' }], executor_config: sh('echo "got {{ .Params.batch }} env=$CLOCKTOWER_PARAM_BATCH who={{ .Params.who }}"') });
  await put({ name: 'par-bad', depends_on: [{ job: 'par-root' }], executor_config: sh('echo {{ .Params.missing }}') });
  const run = await runToEnd('par-root', { parameters: { who: 'alice' } });
  t.same(run.parameters, { who: 'alice', greeting: 'hello' }, 'merged over the defaults');
  const [root] = await executions(url, 'par-root');
  t.equal(root?.output, `hello alice env=alice job=par-root\n::set-param batch=b-${run.id}\n`);
  t.same(byJob(run)['par-root']?.params_out, { batch: `b-${run.id}` });
  const [next] = await executions(url, 'par-next');
  t.equal(next?.output, `got b-${run.id} env=b-${run.id} who=alice\n`);
  const bad = byJob(run)['par-bad'];
  t.equal(bad?.state, 'failed');
  t.match(bad?.reason, /executor_config.command: unknown template key .Params.missing/, 'an unknown key fails the task, naming it');
  t.equal(run.state, 'failed');
  const badParams = await call(url, 'POST', '/v1/jobs/par-root/run', { parameters: { 'no-dash': 'x' } });
  t.equal(badParams.status, 400);
});

t.test('not_before from a parameter: the task waits until then', async (t) => {
  await put({ name: 'nb-root', schedule: '@manually', parameters: { ship_at: '2000-01-01T00:00:00Z' }, executor_config: sh('echo ordered') });
  await put({ name: 'nb-ship', depends_on: [{ job: 'nb-root' }], not_before: '{{ .Params.ship_at }}', executor_config: sh('echo shipped') });
  await put({ name: 'nb-bad', depends_on: [{ job: 'nb-root' }], not_before: '{{ .Params.when }}', executor_config: sh('echo never') });
  t.match((await call(url, 'GET', '/v1/jobs/nb-ship')).body, { not_before: '{{ .Params.ship_at }}' });
  const shipAt = new Date(Date.now() + 2500).toISOString();
  const run = await runToEnd('nb-root', { parameters: { ship_at: shipAt } });
  const tasks = byJob(run);
  t.equal(tasks['nb-ship']?.state, 'succeeded');
  t.ok(ms(tasks['nb-ship']?.started_at ?? null) >= Date.parse(shipAt), `started ${tasks['nb-ship']?.started_at ?? ''}, not before ${shipAt}`);
  t.match(tasks['nb-bad'], { state: 'failed', reason: 'not_before: unknown template key .Params.when' });
  const bad = await call(url, 'POST', '/v1/jobs', { name: 'nb-x', schedule: '@manually', executor: 'shell', executor_config: { command: 'true' }, not_before: 'tomorrow' });
  t.match(bad, { status: 400, body: { error: { field: 'not_before' } } });
});

t.test('stop and restart', async (t) => {
  const flag = join(dir.path, 'go-fast');
  await put({ name: 'sr-a', schedule: '@manually', executor_config: sh('echo a') });
  await put({ name: 'sr-b', depends_on: [{ job: 'sr-a' }], executor_config: sh(`test -f ${flag} || sleep 60`) });
  await put({ name: 'sr-c', depends_on: [{ job: 'sr-b' }], executor_config: sh('echo c') });
  const started = await call(url, 'POST', '/v1/jobs/sr-a/run');
  const id = (started.body as { run_id: string }).run_id;
  await until('sr-b to run', async () => (byJob((await call(url, 'GET', `/v1/runs/${id}`)).body as RunJson)['sr-b']?.state === 'running' ? true : undefined));
  const stop = await call(url, 'POST', `/v1/runs/${id}/stop`);
  t.equal(stop.status, 202);
  const stopped = await until('the stopped run to settle', async () => {
    const run = (await call(url, 'GET', `/v1/runs/${id}`)).body as RunJson;
    return byJob(run)['sr-b']?.state === 'stopped' ? run : undefined;
  });
  t.match(stopped, { state: 'stopped', tasks: [{ job: 'sr-a', state: 'succeeded' }, { job: 'sr-b', state: 'stopped' }, { job: 'sr-c', state: 'stopped' }] });
  t.equal((await call(url, 'POST', `/v1/runs/${id}/stop`)).status, 409, 'a stopped run cannot be stopped again');
  writeFileSync(flag, '');
  t.ok(existsSync(flag));
  t.equal((await call(url, 'POST', `/v1/runs/${id}/restart`)).status, 202);
  const done = await until('the restarted run to end', async () => {
    const run = (await call(url, 'GET', `/v1/runs/${id}`)).body as RunJson;
    return run.state === 'running' ? undefined : run;
  });
  t.equal(done.state, 'succeeded');
  t.equal((await executions(url, 'sr-a')).length, 1, 'the succeeded root is kept, not run again');
  t.equal((await executions(url, 'sr-b')).length, 2, 'the stopped task ran again');
  t.equal((await call(url, 'GET', '/v1/runs/nope')).status, 404);
});

t.test('a Dkron parent/child export still chains', async (t) => {
  const file = [
    { name: 'dk-grandchild', parent_job: 'dk-child', executor: 'shell', executor_config: { command: 'echo gc' }, dependent_jobs: null },
    { name: 'dk-child', parent_job: 'dk-parent', executor: 'shell', executor_config: { command: 'echo c' }, dependent_jobs: ['dk-grandchild'] },
    { name: 'dk-parent', schedule: '@manually', executor: 'shell', executor_config: { command: 'echo p' }, dependent_jobs: ['dk-child'] },
  ];
  const restored = await call(url, 'POST', '/v1/restore', file);
  t.same(restored.body, ['success create dk-parent', 'success create dk-child', 'success create dk-grandchild'], 'upstreams first');
  t.match((await call(url, 'GET', '/v1/jobs/dk-child')).body, { parent_job: 'dk-parent', dependent_jobs: ['dk-grandchild'], depends_on: [{ job: 'dk-parent', on: 'success' }] });
  const run = await runToEnd('dk-parent');
  t.equal(run.state, 'succeeded');
  const [gc] = await executions(url, 'dk-grandchild');
  t.match(gc, { trigger: 'parent', output: 'gc\n', state: 'succeeded' });
});

t.test('validation: 400 naming the field; deleting an upstream is 409', async (t) => {
  const bad = async (job: Record<string, unknown>) => {
    const res = await call(url, 'POST', '/v1/jobs', { executor: 'shell', executor_config: { command: 'true' }, ...job });
    return { status: res.status, error: (res.body as { error?: { field?: string; message?: string } }).error };
  };
  t.match(await bad({ name: 'v1', depends_on: [{ job: 'ghost' }] }), { status: 400, error: { field: 'depends_on[0].job', message: /unknown upstream job ghost/ } });
  t.match(await bad({ name: 'v1', depends_on: [{ job: 'v1' }] }), { status: 400, error: { field: 'depends_on[0].job' } });
  t.match(await bad({ name: 'v1', depends_on: [{ job: 'dia-a', output_matches: '(' }] }), { status: 400, error: { field: 'depends_on[0].output_matches' } });
  t.match(await bad({ name: 'v1', depends_on: [{ job: 'dia-a', on: 'maybe' }] }), { status: 400, error: { field: 'depends_on[0].on' } });
  t.match(await bad({ name: 'v1', depends_on: [{ job: 'dia-a', colour: 'red' }] }), { status: 400, error: { field: 'depends_on[0].colour' } });
  t.match(await bad({ name: 'dia-a', schedule: '@manually', depends_on: [{ job: 'dia-d', on: 'done' }] }), { status: 400, error: { field: 'depends_on', message: 'depends_on: the edges would make a cycle: dia-a -> dia-b -> dia-d -> dia-a' } });
  t.equal((await call(url, 'DELETE', '/v1/jobs/dia-b')).status, 409, 'dia-d depends on it');
});

t.test('the CLI: jobs run --param, runs list, get, stop, restart', async (t) => {
  const cli = (args: string[]) => new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [mainJs, ...args, '--address', url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  const run = await cli(['jobs', 'run', 'par-root', '--param', 'who=bob']);
  t.equal(run.code, 0, run.stderr);
  const id = /\(run (\S+)\)/.exec(run.stdout)?.[1] ?? '';
  t.ok(id, `the run id is printed: ${run.stdout}`);
  await until('the run to end', async () => (((await call(url, 'GET', `/v1/runs/${id}`)).body as RunJson).state !== 'running' ? true : undefined));
  const list = await cli(['runs', 'list', '--job', 'par-root']);
  t.match(list.stdout, new RegExp(`${id}\\s+par-root\\s+failed`));
  const got = await cli(['runs', 'get', id]);
  t.match(JSON.parse(got.stdout), { id, parameters: { who: 'bob' } });
  t.equal((await cli(['runs', 'stop', id])).code, 1, 'a finished run cannot be stopped');
  const restart = await cli(['runs', 'restart', id]);
  t.equal(restart.code, 0, restart.stderr);
  t.match(restart.stdout, `restarted run ${id}`);
  t.equal((await cli(['runs', 'get'])).code, 2, 'an ID is required');
});
