// --api-token-file keeps the API token off the command line: a real light
// server started with it has no token in /proc/PID/cmdline (nor in its
// environment), requires the token, and the CLI reads it from a file too.

import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { call, mainJs, startLight, tempDir, until, type ExecutionJson } from '../support/light-process.js';

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [mainJs, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const token = 'tok-e3b0c44298fc1c149afbf4c8996fb924';

t.test('a server with --api-token-file', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const file = join(dir.path, 'token');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  const light = await startLight(join(dir.path, 'data'), ['--api-token-file', file]);
  t.teardown(() => light.stop());
  const pid = light.child.pid ?? 0;
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  t.match(cmdline, /--api-token-file/, 'the cmdline is the server\'s');
  t.notOk(cmdline.includes(token), 'no token in /proc/PID/cmdline');
  t.notOk(readFileSync(`/proc/${pid}/environ`, 'utf8').includes(token), 'nor in its environment');

  t.equal((await call(light.url, 'GET', '/v1/jobs')).status, 401, 'the API requires the token');
  t.equal((await call(light.url, 'GET', '/v1/jobs', undefined, { authorization: 'Bearer wrong' })).status, 401);
  t.equal((await call(light.url, 'GET', '/v1/jobs', undefined, { authorization: `Bearer ${token}` })).status, 200, 'the token from the file (without its newline) works');

  const jobFile = join(dir.path, 'job.json');
  writeFileSync(jobFile, JSON.stringify({ name: 'env', schedule: '@manually', executor: 'shell', executor_config: { command: 'env' } }));
  const put = await cli(['jobs', 'put', '-f', jobFile, '--address', light.url, '--api-token-file', file]);
  t.equal(put.code, 0, `the CLI reads --api-token-file: ${put.stderr}`);
  const fromEnv = await cli(['jobs', 'run', 'env', '--address', light.url], { CLOCKTOWER_API_TOKEN_FILE: file });
  t.equal(fromEnv.code, 0, `and CLOCKTOWER_API_TOKEN_FILE: ${fromEnv.stderr}`);
  const without = await cli(['jobs', 'list', '--address', light.url]);
  t.equal(without.code, 1, 'without it the CLI is refused');
  t.match(without.stderr, /API token/);
  const both = await cli(['jobs', 'list', '--address', light.url, '--api-token', token, '--api-token-file', file]);
  t.equal(both.code, 2, 'both flags: a usage error');
  const missing = await cli(['jobs', 'list', '--address', light.url, '--api-token-file', join(dir.path, 'nope')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /--api-token-file .*nope: cannot read it: ENOENT/);

  const [run] = await until('the job to finish', async () => {
    const list = (await call(light.url, 'GET', '/v1/jobs/env/executions', undefined, { authorization: `Bearer ${token}` })).body as ExecutionJson[];
    return list.length > 0 && list.every((e) => e.finished_at) ? list : undefined;
  });
  t.equal(run?.state, 'succeeded');
  t.notOk(run?.output.includes(token), 'a job sees no token in its environment');
  t.notOk(run?.output.includes('CLOCKTOWER_API_TOKEN_FILE'), 'nor the variable naming the file');
});

t.test('CLOCKTOWER_API_TOKEN_FILE for the server, and bad token files', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const file = join(dir.path, 'token');
  writeFileSync(file, token, { mode: 0o600 });
  const light = await startLight(join(dir.path, 'data'), [], { CLOCKTOWER_API_TOKEN_FILE: file });
  t.teardown(() => light.stop());
  t.equal((await call(light.url, 'GET', '/v1/jobs')).status, 401);
  t.equal((await call(light.url, 'GET', '/v1/jobs', undefined, { authorization: `Bearer ${token}` })).status, 200);

  const empty = join(dir.path, 'empty');
  writeFileSync(empty, '\n');
  const base = ['light', '--data-dir', join(dir.path, 'other'), '--http-addr', '127.0.0.1:0'];
  const a = await cli([...base, '--api-token-file', empty]);
  t.equal(a.code, 2);
  t.match(a.stderr, /--api-token-file .*empty: the file is empty/);
  const b = await cli([...base, '--api-token-file', join(dir.path, 'nope')]);
  t.equal(b.code, 2);
  t.match(b.stderr, /cannot read it: ENOENT/);
  const c = await cli([...base, '--api-token-file', file, '--api-token', 'x']);
  t.equal(c.code, 2);
  t.match(c.stderr, /not both/);
});
