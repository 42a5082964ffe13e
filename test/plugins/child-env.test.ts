// What a job's command sees of the environment: the node's own, without
// Clocktower's variables (settings, CLOCKTOWER_API_TOKEN, the magic cookie)
// or any variable holding a token the process was given, unless the job's
// env sets them. Both ways a shell command runs: the in-process executor
// (light mode) and the shell plugin program (agents), with `env` itself.

import t from 'tap';

type Tap = typeof t;
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ShellExecutor } from '../../plugins/executors/shell/shell-executor.js';
import { PluginExecutor } from '../../plugins/sdk/plugin-executor.js';
import { childEnv, hideFromChildren } from '../../plugins/sdk/child-env.js';
import type { Executor } from '../../plugins/sdk/executor.js';

process.env['CLOCKTOWER_API_TOKEN'] = 'token-from-env-1234';
process.env['CLOCKTOWER_HTTP_ADDR'] = '127.0.0.1:9999';
process.env['DEPLOY_TOKEN_COPY'] = 'the-cli-token-5678';
process.env['JOB_VISIBLE'] = 'yes';
hideFromChildren('the-cli-token-5678');

async function envOf(executor: Executor, jobEnv = ''): Promise<Map<string, string>> {
  let out = '';
  const result = await executor.execute({ jobName: 'env-job', config: { command: 'env', env: jobEnv }, executionId: '1', scheduledAtMs: 0, attempt: 1 }, {
    write: (c) => { out += Buffer.from(c).toString(); },
  }, new AbortController().signal);
  if (!result.success) throw new Error(`env failed: ${result.error}`);
  return new Map(out.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

function checkScrubbed(t: Pick<Tap, 'same' | 'notOk' | 'equal'>, env: Map<string, string>): void {
  t.same([...env.keys()].filter((k) => k.startsWith('CLOCKTOWER_')), [], 'no CLOCKTOWER_* variable');
  t.notOk([...env.values()].some((v) => v.includes('token-from-env-1234') || v.includes('the-cli-token-5678')), 'no token in any value');
  t.equal(env.get('JOB_VISIBLE'), 'yes', 'the rest of the environment is kept');
  t.equal(env.get('PATH'), process.env['PATH']);
  t.equal(env.get('ENV_JOB_NAME'), 'env-job');
}

t.test('childEnv: what it drops and keeps', async (t) => {
  t.same(childEnv({ CLOCKTOWER_NODE: '/n', CLOCKTOWER_X: 'x', A: 'a', B: 'the-cli-token-5678', C: undefined }, ['CLOCKTOWER_NODE']), { CLOCKTOWER_NODE: '/n', A: 'a' });
});

t.test('in-process shell executor', async (t) => {
  const env = await envOf(new ShellExecutor({ cgroups: false }));
  checkScrubbed(t, env);
  const set = await envOf(new ShellExecutor({ cgroups: false }), 'CLOCKTOWER_HTTP_ADDR=mine,EXTRA=1');
  t.equal(set.get('CLOCKTOWER_HTTP_ADDR'), 'mine', "the job's env may set one");
  t.equal(set.get('EXTRA'), '1');
});

t.test('shell plugin program: neither the plugin nor its jobs get the host\'s variables', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ct-childenv-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'clocktower-executor-shell');
  writeFileSync(path, `#!/bin/sh\nexec "${process.execPath}" "${resolve('dist/plugins/executors/shell/main.js')}" "$@"\n`);
  chmodSync(path, 0o755);
  const p = new PluginExecutor('shell', path);
  t.teardown(() => p.close());
  checkScrubbed(t, await envOf(p));
});
