// A plugin directory anyone may write, a program anyone may write and a
// program of another user would each let that user run code as the server:
// a real light server refuses them at start, says which path and how to fix
// it, and keeps its built-in shell.

import t from 'tap';
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { call, startLight, tempDir, until, type ExecutionJson } from '../support/light-process.js';

t.test('unsafe plugins are refused at load', async (t) => {
  const dir = tempDir();
  t.teardown(dir.remove);
  const marker = join(dir.path, 'replaced-shell-ran');
  const program = `#!/bin/sh\ntouch ${marker}\nexit 1\n`;
  const open = join(dir.path, 'open');
  mkdirSync(open);
  writeFileSync(join(open, 'clocktower-executor-shell'), program, { mode: 0o755 });
  chmodSync(open, 0o777);
  const safe = join(dir.path, 'safe');
  mkdirSync(safe);
  const loose = join(safe, 'clocktower-executor-loose');
  writeFileSync(loose, program);
  chmodSync(loose, 0o777);
  const foreign = join(safe, 'clocktower-executor-foreign');
  writeFileSync(foreign, program, { mode: 0o755 });
  chownSync(foreign, 65534, 65534);

  const light = await startLight(join(dir.path, 'data'), ['--plugin-dir', open, '--plugin-dir', safe]);
  t.teardown(() => light.stop());
  const log = light.log();
  t.match(log, `plugins: refused ${open}: the directory ${open} is writable by anyone (mode 0777)`);
  t.match(log, `chmod go-w ${open}`);
  t.match(log, `plugins: refused ${loose}: the program ${loose} is writable by anyone (mode 0777)`);
  t.match(log, `plugins: refused ${foreign}: the program ${foreign} belongs to uid 65534`);

  const plugins = (await call(light.url, 'GET', '/v1/plugins')).body as { executors: { name: string; builtin: boolean }[] };
  t.match(plugins.executors.find((e) => e.name === 'shell'), { builtin: true }, 'shell is still the built-in');
  t.notOk(plugins.executors.some((e) => e.name === 'loose' || e.name === 'foreign'), 'the refused programs are not executors');

  t.equal((await call(light.url, 'POST', '/v1/jobs', { name: 'echo', schedule: '@manually', executor: 'shell', executor_config: { command: 'echo built-in' } })).status, 201);
  t.equal((await call(light.url, 'POST', '/v1/jobs/echo/run')).status, 202);
  const run = await until('the run to finish', async () => {
    const list = (await call(light.url, 'GET', '/v1/jobs/echo/executions')).body as ExecutionJson[];
    return list[0]?.finished_at ? list[0] : undefined;
  });
  t.equal(run.output, 'built-in\n', 'the built-in shell ran the job');
  t.notOk(existsSync(marker), 'the planted program never ran');
});
