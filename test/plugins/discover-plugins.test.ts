// Plugin discovery against real directories: names, order, and everything
// that is passed over (with the reason) rather than failing.

import t from 'tap';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discoverPlugins } from '../../plugins/sdk/discover-plugins.js';

const root = mkdtempSync(join(tmpdir(), 'ct-discover-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

function file(dir: string, name: string, mode = 0o755): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, '#!/bin/sh\nexit 0\n');
  chmodSync(path, mode);
  return path;
}

const first = join(root, 'first');
const second = join(root, 'second');
const hello = file(first, 'clocktower-executor-hello');
const myThing = file(first, 'clocktower-executor-my-thing');
const logProc = file(first, 'clocktower-processor-log');
file(first, 'README.md');
file(first, 'dkron-executor-shell');
const readOnly = file(first, 'clocktower-executor-readonly', 0o644);
mkdirSync(join(first, 'clocktower-executor-adir'));
symlinkSync(join(root, 'nowhere'), join(first, 'clocktower-executor-dangling'));
const target = file(join(root, 'elsewhere'), 'the-real-program');
mkdirSync(second);
symlinkSync(target, join(second, 'clocktower-executor-linked'));
const shadowed = file(second, 'clocktower-executor-hello');
const fromSecond = file(second, 'clocktower-processor-files');
const notADir = file(root, 'a-file');

const found = discoverPlugins([first, join(root, 'missing'), second, notADir]);

t.test('executors and processors by name, with absolute paths', async (t) => {
  t.same([...found.executors], [
    ['hello', hello],
    ['my-thing', myThing],
    ['linked', join(second, 'clocktower-executor-linked')],
  ]);
  t.same([...found.processors], [['log', logProc], ['files', fromSecond]]);
});

t.test('the first directory holding a name wins', async (t) => {
  t.equal(found.executors.get('hello'), hello);
  t.match(found.skipped.find((s) => s.path === shadowed)?.reason, /already provided by .*first\/clocktower-executor-hello/);
});

t.test('unusable matches are skipped with a reason; a missing directory is fine', async (t) => {
  const reasons = Object.fromEntries(found.skipped.map((s) => [s.path, s.reason]));
  t.match(reasons[readOnly], /not executable/);
  t.match(reasons[join(first, 'clocktower-executor-adir')], /not a regular file/);
  t.match(reasons[join(first, 'clocktower-executor-dangling')], /symlink to nothing/);
  t.match(reasons[notADir], /not a directory/);
  t.equal(found.skipped.length, 5, 'nothing else is skipped (non-matching names are ignored silently)');
  t.same(found.missingDirs, [join(root, 'missing')]);
});

t.test('relative directories give absolute paths; no directories find nothing', async (t) => {
  const cwd = process.cwd();
  process.chdir(root);
  t.teardown(() => process.chdir(cwd));
  t.equal(discoverPlugins(['first']).executors.get('hello'), hello);
  const none = discoverPlugins([]);
  t.equal(none.executors.size + none.processors.size + none.skipped.length, 0);
});
