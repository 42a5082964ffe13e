// Plugin discovery against real directories: names, order, and everything
// that is passed over (with the reason) rather than failing.

import t from 'tap';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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

t.test('directories and programs others could change are refused, naming the path and the fix', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'ct-unsafe-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const open = join(base, 'open');
  file(open, 'clocktower-executor-shell');
  chmodSync(open, 0o777);
  const groupDir = join(base, 'group');
  file(groupDir, 'clocktower-executor-g');
  chmodSync(groupDir, 0o775);
  const safe = join(base, 'safe');
  const loose = file(safe, 'clocktower-executor-loose', 0o777);
  const foreign = file(safe, 'clocktower-executor-foreign');
  chownSync(foreign, 65534, 65534);
  const fine = file(safe, 'clocktower-executor-fine');
  const fineProcessor = file(safe, 'clocktower-processor-fine', 0o750);
  // A symlink to a program in a directory anyone may write (without the sticky bit).
  const openTarget = file(join(base, 'drop'), 'program');
  chmodSync(join(base, 'drop'), 0o777);
  symlinkSync(openTarget, join(safe, 'clocktower-executor-via-link'));
  // In a sticky directory (like /tmp) others cannot replace the file: fine.
  const stickyTarget = file(join(base, 'sticky'), 'program');
  chmodSync(join(base, 'sticky'), 0o1777);
  symlinkSync(stickyTarget, join(safe, 'clocktower-executor-sticky'));
  const foreignDir = join(base, 'theirs');
  file(foreignDir, 'clocktower-executor-theirs');
  chownSync(foreignDir, 65534, 65534);
  const own = process.getuid?.() ?? 0;

  const got = discoverPlugins([open, groupDir, safe, foreignDir]);
  t.same([...got.executors.keys()].sort(), ['fine', 'sticky'], 'only the safe programs');
  t.same([...got.processors], [['fine', fineProcessor]]);
  t.equal(got.executors.get('fine'), fine);
  const refused = Object.fromEntries(got.skipped.filter((s) => s.refused).map((s) => [s.path, s.reason]));
  t.match(refused[open], new RegExp(`^the directory ${open} is writable by anyone \\(mode 0777\\).*chmod go-w ${open}.*none of its plugins are loaded`));
  t.match(refused[groupDir], /writable by its group \(mode 0775\)/);
  t.match(refused[loose], new RegExp(`the program ${loose} is writable by anyone \\(mode 0777\\).*chmod go-w`));
  t.match(refused[foreign], new RegExp(`the program ${foreign} belongs to uid 65534, not to root or to this node's user \\(uid ${own}\\).*chown`));
  t.match(refused[join(safe, 'clocktower-executor-via-link')], new RegExp(`it leads to ${openTarget}, in the directory ${join(base, 'drop')} is writable by anyone`));
  t.match(refused[foreignDir], /belongs to uid 65534/);
  t.equal(Object.keys(refused).length, 6, 'nothing else is refused');
  t.notOk(got.skipped.some((s) => s.path.startsWith(open + '/')), 'a refused directory is not even read');

  const asThem = discoverPlugins([foreignDir], { uid: 65534 });
  t.same([...asThem.executors.keys()], ['theirs'], 'a node running as that user may use its own files');
});
