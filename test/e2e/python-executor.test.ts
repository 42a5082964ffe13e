// A plugin in another language: examples/executor-python is an executor in
// Python written from the README's plugin protocol and proto/plugin.proto
// alone (no Clocktower SDK). Light mode starts it from a plugin directory and
// runs jobs with it: output and success, a failure with its error and exit
// code, a config refused by its Validate at save time, and a stop.

import t from 'tap';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { call, executions, startLight, tempDir, until, type ExecutionJson } from '../support/light-process.js';

const python = '/usr/bin/python3';

function pythonHasGrpc(): boolean {
  try {
    execFileSync(python, ['-c', 'import grpc, grpc_tools'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

t.test('an executor written in Python runs jobs', { skip: pythonHasGrpc() ? false : `${python} with grpcio and grpcio-tools is not installed (.ci/run installs python3-grpcio python3-grpc-tools)` }, async (t) => {
  const tmp = tempDir('ct-python-');
  t.teardown(() => tmp.remove());
  const plugins = join(tmp.path, 'plugins');
  mkdirSync(plugins);
  const program = join(plugins, 'clocktower-executor-pyhello');
  writeFileSync(program, `#!/bin/sh\nexec ${python} "${resolve('examples/executor-python/clocktower-executor-pyhello')}"\n`);
  chmodSync(program, 0o755);
  const light = await startLight(join(tmp.path, 'data'), ['--plugin-dir', plugins]);
  t.teardown(() => light.stop());
  const { url } = light;

  const plugin = await call(url, 'GET', '/v1/plugins');
  t.match(plugin.text, /pyhello/, 'listed among the plugins');

  async function run(name: string, config: Record<string, string>): Promise<ExecutionJson> {
    const created = await call(url, 'POST', '/v1/jobs', { name, schedule: '@manually', executor: 'pyhello', executor_config: config });
    t.equal(created.status, 201, `${name} saved`);
    t.equal((await call(url, 'POST', `/v1/jobs/${name}/run`)).status, 202);
    return until(`${name} to finish`, async () => (await executions(url, name)).find((e) => e.finished_at !== null), 30_000);
  }

  const ok = await run('greet', { name: 'Ada' });
  t.equal(ok.success, true);
  t.match(ok.output, /Hello from Python, Ada! \(attempt 1 of greet\)/);

  const failed = await run('fail', { fail: 'true' });
  t.equal(failed.success, false);
  t.match(failed.output, /failing on purpose/, 'the error text is appended to the output');

  const refused = await call(url, 'POST', '/v1/jobs', { name: 'bad', schedule: '@manually', executor: 'pyhello', executor_config: { sleep: 'soon' } });
  t.equal(refused.status, 400, 'Validate refuses a bad config at save time');
  t.match(refused.text, /sleep must be a number of seconds/);

  t.equal((await call(url, 'POST', '/v1/jobs', { name: 'long', schedule: '@manually', executor: 'pyhello', executor_config: { sleep: '600' } })).status, 201);
  t.equal((await call(url, 'POST', '/v1/jobs/long/run')).status, 202);
  const running = await until('long to run', async () => (await executions(url, 'long')).find((e) => e.state === 'running'));
  const stop = await call(url, 'POST', `/v1/jobs/long/executions/${running.id}/stop`);
  t.ok(stop.status < 300, `stop accepted (${stop.status})`);
  const stopped = await until('long to stop', async () => (await executions(url, 'long')).find((e) => e.finished_at !== null), 30_000);
  t.equal(stopped.success, false, 'a stopped execution is not a success');
  t.match(stopped.state, /stopped|failed/);
});
