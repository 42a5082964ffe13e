// Light mode restarted under another node name (the default is the
// hostname, which changes when a container restarts): it says what happened
// and how to go on, exits non-zero, and leaves no LOCK behind; under the old
// name it carries on with its jobs.

import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { call, mainJs, startLight, tempDir } from '../support/light-process.js';

t.test('a renamed light node explains itself and keeps the data', async (t) => {
  const dir = tempDir();
  t.teardown(() => dir.remove());
  const first = await startLight(dir.path);
  const created = await call(first.url, 'POST', '/v1/jobs', JSON.stringify({ name: 'kept', schedule: '@every 1h', executor: 'shell', executor_config: { command: 'true' } }));
  t.equal(created.status, 201);
  t.equal(await first.stop(), 0);

  const renamed = spawn(process.execPath, [mainJs, 'light', '--data-dir', dir.path, '--http-addr', '127.0.0.1:0', '--node-name', 'other-host'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  renamed.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const code = await new Promise<number | null>((res) => renamed.once('exit', (c) => res(c)));
  t.equal(code, 1, 'exits with 1, not 13');
  t.match(stderr, /belongs to node "node1", and this node is named "other-host"/);
  t.match(stderr, /--node-name node1/, 'says how to go on');
  t.notOk(existsSync(join(dir.path, 'LOCK')), 'no stale LOCK');

  const again = await startLight(dir.path);
  t.teardown(() => again.stop());
  const job = await call(again.url, 'GET', '/v1/jobs/kept');
  t.equal(job.status, 200, 'under its old name the node carries on with its jobs');
});
