// A light server given a token in its environment: a job running `env` sees
// none of the server's variables, and the data directory and its files are
// for the server's user only (a directory others may read gives a warning).

import t from 'tap';
import { chmodSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { call, startLight, tempDir, until, type ExecutionJson } from '../support/light-process.js';

const token = 'secret-token-4242';
const auth = { authorization: `Bearer ${token}` };

function modes(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path);
    out.push(`${path.slice(dir.length)} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory()) out.push(...modes(path).map((l) => `/${name}${l}`));
  }
  return out;
}

t.test('a job sees no server variable; the data dir is 0700 and its files 0600', async (t) => {
  const tmp = tempDir();
  t.teardown(tmp.remove);
  const dataDir = join(tmp.path, 'data');
  const light = await startLight(dataDir, [], { CLOCKTOWER_API_TOKEN: token, CLOCKTOWER_HISTORY_LIMIT: '50', SERVER_SIDE: 'kept' });
  t.teardown(() => light.stop());
  t.equal((await call(light.url, 'POST', '/v1/jobs', { name: 'env', schedule: '@manually', executor: 'shell', executor_config: { command: 'env' } }, auth)).status, 201);
  t.equal((await call(light.url, 'POST', '/v1/jobs/env/run', undefined, auth)).status, 202);
  const out = await until('the env job to finish', async () => {
    const a = await call(light.url, 'GET', '/v1/jobs/env/executions', undefined, auth);
    const done = (a.body as ExecutionJson[]).find((e) => e.finished_at);
    return done?.output;
  });
  t.notMatch(out, /CLOCKTOWER_/, 'no CLOCKTOWER_* variable');
  t.notMatch(out, token, 'the token nowhere');
  t.match(out, /^SERVER_SIDE=kept$/m, 'the rest of the environment is inherited');
  t.match(out, /^ENV_JOB_NAME=env$/m);

  t.equal((statSync(dataDir).mode & 0o777).toString(8), '700');
  const listed = modes(dataDir);
  t.ok(listed.length > 2, 'there are files to check');
  t.same(listed.filter((l) => !/ (600|700)$/.test(l)), [], 'every file 0600, every directory 0700');
  t.notMatch(light.log(), /open to other users/);
});

t.test('a data directory others may read: a warning at start', async (t) => {
  const tmp = tempDir();
  t.teardown(tmp.remove);
  const dataDir = join(tmp.path, 'open');
  mkdirSync(dataDir);
  chmodSync(dataDir, 0o755);
  const light = await startLight(dataDir);
  t.teardown(() => light.stop());
  t.match(light.log(), /the data directory .*open is open to other users \(mode 0755\).*chmod 700/);
  t.equal((await call(light.url, 'GET', '/health')).status, 200, 'and it runs');
});
