// A server whose log cannot be written (here: the file size limit of its
// process, so every write past it fails with EFBIG) refuses the write, says
// why, and ends with exit code 1 so that a supervisor restarts it; every job
// it acknowledged before is there after the restart.

import t from 'tap';
import { call, startLight, tempDir } from '../support/light-process.js';

t.test('a failed log write stops the server with exit 1 and loses nothing acknowledged', async (t) => {
  const dir = tempDir();
  t.teardown(() => dir.remove());
  const limited = await startLight(dir.path, [], {}, ['prlimit', '--fsize=600000']);
  const exited = new Promise<number | null>((res) => {
    if (limited.child.exitCode !== null) res(limited.child.exitCode);
    else limited.child.once('exit', (code) => res(code));
  });
  t.teardown(async () => {
    if (limited.child.exitCode === null) await limited.kill9();
  });

  const acknowledged: string[] = [];
  const filler = 'x'.repeat(40_000);
  let refused: { status: number; text: string } | null = null;
  for (let i = 0; i < 100 && refused === null; i++) {
    const name = `job-${i}`;
    const a = await call(limited.url, 'POST', '/v1/jobs', {
      name, schedule: '@every 1h', executor: 'shell', executor_config: { command: 'true' }, metadata: { filler },
    }).catch((err: unknown) => ({ status: 0, text: String(err), headers: {}, body: null }));
    if (a.status === 201) acknowledged.push(name);
    else refused = a;
  }
  t.ok(refused, 'a write is refused once the log cannot grow');
  t.ok(acknowledged.length > 0, 'writes before the limit were acknowledged');
  if (refused && refused.status !== 0) t.match(refused.text, /cannot be written|shutting down/, `the answer says why (${refused.status})`);

  t.equal(await exited, 1, 'the process ends with exit code 1');
  t.match(limited.log(), /the log cannot be written/, 'the log line says why');

  const again = await startLight(dir.path);
  t.teardown(() => again.stop());
  for (const name of acknowledged) {
    const job = await call(again.url, 'GET', `/v1/jobs/${name}`);
    t.equal(job.status, 200, `${name}, acknowledged before the failure, is kept`);
  }
});
