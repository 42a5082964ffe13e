// The plugin role of the executable (`clocktower plugin executor NAME`, how
// the single executable starts its bundled executors) knows the same
// executors as plugins/bundled/, and a role starts, hand-shakes and answers
// from `node dist/bin/main.js` too; a bad role is refused.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { bundledExecutorNames } from '../../bin/bundled-plugins.js';
import { PluginExecutor } from '../../plugins/sdk/plugin-executor.js';
import { mainJs } from '../support/light-process.js';

t.test('the same executors as plugins/bundled/', async (t) => {
  const programs = readdirSync(resolve('plugins/bundled')).map((f) => f.replace(/^clocktower-executor-/, '')).sort();
  t.same([...bundledExecutorNames], programs);
});

t.test('the role serves its executor over the plugin protocol', async (t) => {
  // (test/e2e/single-executable.test.ts runs every bundled executor this way.)
  // A generous start timeout: this is about the role, not the speed of a loaded machine.
  const nats = new PluginExecutor('nats', process.execPath, { args: [mainJs, 'plugin', 'executor', 'nats'], startTimeoutMs: 120_000 });
  t.teardown(() => nats.close());
  await nats.start();
  t.match(await nats.validate({ url: 'nats://127.0.0.1:4222' }), /subject/, 'the nats executor itself answers');
});

t.test('a bad role is refused with its usage', async (t) => {
  for (const [args, says] of [[['plugin', 'processor', 'log'], /usage: clocktower plugin executor NAME/], [['plugin', 'executor', 'nope'], /no bundled executor named "nope"/],
    [['plugin', 'executor', 'nats', 'extra'], /usage: clocktower plugin executor NAME/]] as const) {
    const r = spawnSync(process.execPath, [mainJs, ...args], { encoding: 'utf8' });
    t.equal(r.status, 2, args.join(' '));
    t.match(r.stderr, says);
  }
});
