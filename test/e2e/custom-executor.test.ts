// A user's own executor: the example plugin (examples/executor-hello) is
// copied out of the repository, installed with npm as a user would (its
// `clocktower` dependency pointing at this checkout), dropped into a plugin
// directory, and run by `clocktower light --plugin-dir` for a job. Next to it
// in the directory: a plugin that crashes at start, a file that is not
// executable, a plugin program that replaces the built-in shell, two test
// plugins for error codes, and a processor program (listed; the processor
// host runs those).

import t from 'tap';
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { call, executions, startLight, tempDir, until, type ExecutionJson } from '../support/light-process.js';

const repo = resolve('.');
const tmp = tempDir('ct-custom-');
t.teardown(() => tmp.remove());

// Install: copy the example, point its dependency at this checkout, npm install (a link; no network).
const project = join(tmp.path, 'executor-hello');
cpSync(join(repo, 'examples/executor-hello'), project, { recursive: true, filter: (src) => !/node_modules|package-lock\.json/.test(src) });
const pkgPath = join(project, 'package.json');
const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { dependencies: Record<string, string> };
pkg.dependencies['clocktower'] = `file:${repo}`;
writeFileSync(pkgPath, JSON.stringify(pkg, null, 2));
await promisify(execFile)('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], { cwd: project });

const plugins = join(tmp.path, 'plugins');
mkdirSync(plugins);
const hello = join(plugins, 'clocktower-executor-hello');
symlinkSync(join(project, 'hello-executor.js'), hello);
function script(name: string, body: string, mode = 0o755): string {
  const path = join(plugins, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, mode);
  return path;
}
script('clocktower-executor-crash', 'echo "crash: missing configuration, giving up" >&2\nexit 3');
const notExecutable = script('clocktower-executor-draft', 'exit 0', 0o644);
const processor = script('clocktower-processor-files', 'exit 0');
const shell = script('clocktower-executor-shell', `exec "${process.execPath}" "${join(repo, 'dist/plugins/executors/shell/main.js')}"`);
// Test plugins whose results carry error codes: the SDK's fixture (names its code, or crashes mid-run) and one built before codes.
const coded = script('clocktower-executor-coded', `exec "${process.execPath}" "${join(repo, 'dist/test/plugins/fixtures/fixture-plugin.js')}"`);
const older = script('clocktower-executor-older', `exec "${process.execPath}" "${join(repo, 'dist/test/plugins/fixtures/old-plugin.js')}"`);

const light = await startLight(join(tmp.path, 'data'), ['--plugin-dir', plugins]);
let stopped = false;
t.teardown(async () => { if (!stopped) await light.stop(); });
const { url } = light;

function childrenOf(pid: number | undefined): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

async function runJob(job: Record<string, unknown>): Promise<ExecutionJson> {
  const name = String(job['name']);
  const created = await call(url, 'POST', '/v1/jobs', { schedule: '@manually', ...job });
  if (created.status !== 201) throw new Error(`create ${name}: ${created.status} ${created.text}`);
  const ran = await call(url, 'POST', `/v1/jobs/${name}/run`);
  if (ran.status !== 202) throw new Error(`run ${name}: ${ran.status} ${ran.text}`);
  return until(`${name} to finish`, async () => (await executions(url, name)).find((e) => e.finished_at !== null));
}

t.test('GET /v1/plugins lists the example, the crashing plugin and the built-ins', async (t) => {
  const res = await call(url, 'GET', '/v1/plugins');
  t.equal(res.status, 200);
  const bundled = (name: string) => ({ name, builtin: true, path: join(repo, 'plugins/bundled', `clocktower-executor-${name}`) });
  t.same(res.body, {
    node: 'node1',
    executors: [
      { name: 'coded', builtin: false, path: coded },
      { name: 'crash', builtin: false, path: join(plugins, 'clocktower-executor-crash') },
      bundled('gcppubsub'),
      bundled('grpc'),
      { name: 'hello', builtin: false, path: hello },
      { name: 'http', builtin: true },
      bundled('kafka'),
      bundled('nats'),
      { name: 'older', builtin: false, path: older },
      bundled('pubsub'),
      bundled('rabbitmq'),
      { name: 'shell', builtin: false, path: shell },
    ],
    processors: [
      { name: 'files', builtin: false, path: processor },
      { name: 'fluent', builtin: true },
      { name: 'log', builtin: true },
      { name: 'syslog', builtin: true },
    ],
  });
  const info = await call(url, 'GET', '/v1');
  t.same((info.body as { plugins: unknown }).plugins, { executors: (res.body as { executors: unknown }).executors, processors: (res.body as { processors: unknown }).processors });
  t.same((info.body as { executors: unknown }).executors, ['coded', 'crash', 'gcppubsub', 'grpc', 'hello', 'http', 'kafka', 'nats', 'odm', 'older', 'pubsub', 'rabbitmq', 'shell']);
});

t.test('the log says what was skipped and which plugin did not start', async (t) => {
  t.match(light.log(), `plugins: skipped ${notExecutable}: not executable`);
  await until('the crashing plugin to be reported', async () => (/executor crash did not start/.test(light.log()) ? true : undefined));
  t.match(light.log(), /executor crash did not start .*exited with code 3 before its handshake: crash: missing configuration, giving up/);
  t.match(light.log(), `plugins: executor shell is ${shell} (replacing the built-in shell)`);
});

t.test('a job runs the installed executor and gets its output', async (t) => {
  const e = await runJob({ name: 'greet', executor: 'hello', executor_config: { name: 'Ada' } });
  t.match(e, { success: true, error: '', error_code: '', output: 'Hello, Ada! This is job greet, attempt 1.\n' });
  const failing = await runJob({ name: 'greet-fail', executor: 'hello', executor_config: { fail: 'true' } });
  t.match(failing, { success: false, error: 'failing on purpose: job greet-fail has fail: "true"', error_code: 'CT_EXEC_FAILED', output: 'Hello, world! This is job greet-fail, attempt 1.\n' });
});

t.test('a crashing plugin fails its executions clearly and the server carries on', async (t) => {
  const e = await runJob({ name: 'boom', executor: 'crash' });
  t.equal(e.success, false);
  t.match(e.error, /plugin crash exited with code 3 before its handshake: crash: missing configuration, giving up/);
  t.equal(e.error_code, 'CT_EXEC_PLUGIN_UNAVAILABLE', 'a plugin that cannot start');
  t.equal((await call(url, 'GET', '/health')).status, 200);
  const again = await runJob({ name: 'greet-again', executor: 'hello', executor_config: { name: 'Grace' } });
  t.match(again, { success: true, output: 'Hello, Grace! This is job greet-again, attempt 1.\n' });
});

t.test('error codes cross from the plugin process to the execution JSON', async (t) => {
  t.match(await runJob({ name: 'named', executor: 'coded', executor_config: { mode: 'coded', code: 'CT_EXEC_TIMEOUT' } }),
    { success: false, error: 'failed with a code', error_code: 'CT_EXEC_TIMEOUT' }, 'the code the plugin named');
  t.match(await runJob({ name: 'mid-crash', executor: 'coded', executor_config: { mode: 'crash' } }),
    { success: false, error: /plugin coded exited with code 3 while running this execution/, error_code: 'CT_EXEC_PLUGIN_CRASHED', output: /about to crash/ }, 'a plugin that dies mid-run');
  t.match(await runJob({ name: 'old-fail', executor: 'older', executor_config: { mode: 'fail' } }),
    { success: false, error: 'failed the old way', error_code: 'CT_EXEC_FAILED' }, 'a plugin that sends no code');
  t.match(await runJob({ name: 'old-ok', executor: 'older', executor_config: { text: 'hi' } }), { success: true, error_code: '' });
  const rejected = await call(url, 'POST', '/v1/jobs', { name: 'bad-config', schedule: '@manually', executor: 'coded', executor_config: { mode: 'invalid' } });
  t.equal(rejected.status, 400, "the plugin's Validate rejection maps through the API's table");
  t.same(rejected.body, { error: { code: 'CT_EXEC_CONFIG_INVALID', message: 'mode "invalid" is not a mode of the fixture', field: 'executor_config' } });
});

t.test('a discovered shell replaces the in-process one', async (t) => {
  const e = await runJob({ name: 'parent-pid', executor: 'shell', executor_config: { command: 'echo $PPID', shell: 'true' } });
  t.equal(e.success, true);
  t.ok(childrenOf(light.child.pid).includes(Number(e.output.trim())), 'the command is a child of the shell plugin, a child of the server');
});

t.test('an unknown executor still fails at run time, naming what there is', async (t) => {
  const e = await runJob({ name: 'teleport', executor: 'teleport' });
  t.match(e, { success: false, error: /unknown executor "teleport".*available: coded, crash, gcppubsub, grpc, hello, http, kafka, nats, older, pubsub, rabbitmq, shell/, error_code: 'CT_EXEC_UNKNOWN_EXECUTOR' });
});

t.test('stopping the server stops its plugin programs', async (t) => {
  const children = childrenOf(light.child.pid);
  t.ok(children.length >= 2, `the hello and shell plugins run (children ${children.join(', ')})`);
  stopped = true;
  t.equal(await light.stop(), 0);
  // Gone, or a zombie waiting for whoever adopted it (the container's init may not reap).
  const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  await until('the plugin programs to exit', async () => (children.some(alive) ? undefined : true));
  t.pass('no plugin program outlives the server');
});
