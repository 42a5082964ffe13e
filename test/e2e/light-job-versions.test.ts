// A job's audit trail against a real light server: every change a version
// with who and when, one version read back, a rollback that is itself a
// new version, the CLI's history and rollback, and all of it after a restart.

import t from 'tap';
import { spawn } from 'node:child_process';
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

interface VersionJson { version: number; at: string; by: string; change: string; restored_from?: number; job?: Record<string, unknown> | null }

t.test('versions, a rollback, the CLI, a restart', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const auth = { authorization: 'Bearer sesame' };
  let light = await startLight(dir.path, ['--api-token', 'sesame']);
  t.teardown(() => light.stop());
  const put = (command: string) => call(light.url, 'POST', '/v1/jobs', { name: 'audited', schedule: '@manually', executor: 'shell', executor_config: { command } }, auth);
  const before = Date.now();
  t.equal((await put('echo one')).status, 201);
  t.equal((await put('echo two')).status, 201);
  t.equal((await call(light.url, 'POST', '/v1/jobs/audited/toggle', undefined, auth)).status, 200);

  const list = await call(light.url, 'GET', '/v1/jobs/audited/versions', undefined, auth);
  t.equal(list.status, 200);
  const versions = list.body as VersionJson[];
  t.same(versions.map((v) => [v.version, v.by, v.change]), [[3, 'api-token', 'toggle'], [2, 'api-token', 'update'], [1, 'api-token', 'create']], 'newest first');
  for (const v of versions) t.ok(Date.parse(v.at) >= before - 1000 && Date.parse(v.at) <= Date.now() + 1000, 'the leader\'s time');
  t.notOk('job' in (versions[0] ?? {}), 'the list has no job bodies');

  const one = (await call(light.url, 'GET', '/v1/jobs/audited/versions/1', undefined, auth)).body as VersionJson;
  t.match(one, { version: 1, change: 'create', job: { name: 'audited', disabled: false, executor_config: { command: 'echo one' } } });
  t.notOk('success_count' in (one.job ?? {}), 'a version is the job as sent, without counters');

  t.equal((await call(light.url, 'GET', '/v1/jobs/audited/versions/9', undefined, auth)).status, 404);
  t.equal((await call(light.url, 'GET', '/v1/jobs/audited/versions/x', undefined, auth)).status, 400);
  t.equal((await call(light.url, 'GET', '/v1/jobs/ghost/versions', undefined, auth)).status, 404);
  t.equal((await call(light.url, 'GET', '/v1/jobs/audited/versions')).status, 401, 'the token is needed as for every route');

  const restored = await call(light.url, 'POST', '/v1/jobs/audited/versions/1/restore', undefined, auth);
  t.equal(restored.status, 201, restored.text);
  t.match(restored.body, { name: 'audited', disabled: false, executor_config: { command: 'echo one' } });
  const after = (await call(light.url, 'GET', '/v1/jobs/audited/versions', undefined, auth)).body as VersionJson[];
  t.match(after[0], { version: 4, change: 'restore', restored_from: 1, by: 'api-token' });

  // The CLI.
  const cliAuth = ['--address', light.url, '--api-token', 'sesame'];
  const history = await cli(['jobs', 'history', 'audited', ...cliAuth]);
  t.equal(history.code, 0, history.stderr);
  t.match(history.stdout, /^VERSION\s+AT\s+BY\s+CHANGE$/m);
  t.match(history.stdout, /^4\s+\S+\s+api-token\s+restore of 1$/m);
  const rollback = await cli(['jobs', 'rollback', 'audited', '2', ...cliAuth]);
  t.equal(rollback.code, 0, rollback.stderr);
  t.match((await call(light.url, 'GET', '/v1/jobs/audited', undefined, auth)).body, { executor_config: { command: 'echo two' } });

  // A deletion is a version too, and cannot itself be restored; the job's history outlives it.
  t.equal((await call(light.url, 'DELETE', '/v1/jobs/audited', undefined, auth)).status, 200);
  const deleted = (await call(light.url, 'GET', '/v1/jobs/audited/versions', undefined, auth)).body as VersionJson[];
  t.match(deleted[0], { version: 6, change: 'delete' });
  t.equal((await call(light.url, 'POST', '/v1/jobs/audited/versions/6/restore', undefined, auth)).status, 409);

  // After a restart (the log replayed): the same versions, and a restore brings the job back.
  await light.stop();
  light = await startLight(dir.path, ['--api-token', 'sesame']);
  const replayed = (await call(light.url, 'GET', '/v1/jobs/audited/versions', undefined, auth)).body as VersionJson[];
  t.same(replayed, deleted);
  t.equal((await call(light.url, 'POST', '/v1/jobs/audited/versions/5/restore', undefined, auth)).status, 201);
  t.match((await call(light.url, 'GET', '/v1/jobs/audited', undefined, auth)).body, { executor_config: { command: 'echo two' } });
});
