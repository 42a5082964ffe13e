// Mutation checks: each planted bug (planted-bugs.ts) is switched on alone in
// a copy of the compiled tree, and the tests named for it must fail. A bug
// that no test catches is a hole in the tests. `CT_MUTANTS=name,...` runs
// only the named ones.

import t from 'tap';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { plantedBugs, type PlantedBug } from './planted-bugs.js';

const dist = resolve('dist');
// Inside the project, so the copy finds node_modules as the real tree does.
const copy = resolve('.mutants');

function runProgram(args: readonly string[]): Promise<{ code: number | null; tail: string }> {
  return new Promise((res) => {
    const [file, ...rest] = args as [string, ...string[]];
    const child = spawn(process.execPath, [join('dist', file), ...rest], {
      // In the copy: tests that start fixtures from dist/ start the mutated ones.
      cwd: copy,
      env: { ...process.env, TAP: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let tail = '';
    const keep = (c: Buffer) => { tail = (tail + c.toString()).slice(-2000); };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('close', (code) => res({ code, tail }));
  });
}

async function caught(bug: PlantedBug): Promise<string | null> {
  for (const program of bug.caughtBy) {
    const { code } = await runProgram(program);
    if (code !== 0) return program.join(' ');
  }
  return null;
}

const only = process.env['CT_MUTANTS']?.split(',').map((s) => s.trim()).filter(Boolean);

t.test('every planted bug is caught by the tests', async (t) => {
  rmSync(copy, { recursive: true, force: true });
  cpSync(dist, join(copy, 'dist'), { recursive: true });
  // What tests read beside dist/: scenario files, fixtures' sources, protos, packages.
  for (const shared of ['node_modules', 'test', 'proto', 'package.json']) {
    if (existsSync(shared) && !existsSync(join(copy, shared))) symlinkSync(resolve(shared), join(copy, shared));
  }
  t.teardown(() => rmSync(copy, { recursive: true, force: true }));

  // The unmutated copy passes, so a failure below is the bug's doing (the
  // simulations' seeds are run unmutated by sim-seeds-*.test.js and node-sim.test.js).
  const programs = [...new Map(plantedBugs.flatMap((b) => b.caughtBy).map((p) => [p.join(' '), p])).values()]
    .filter((p) => p[0] !== 'test/sim/run.js' && p[0] !== 'test/sim/run-node.js');
  for (const p of programs) {
    const { code, tail } = await runProgram(p);
    t.equal(code, 0, `unmutated: ${p.join(' ')} passes${code === 0 ? '' : `\n${tail}`}`);
  }

  for (const bug of plantedBugs) {
    if (only && !only.some((o) => bug.name.includes(o))) continue;
    const path = join(copy, 'dist', bug.file);
    const original = readFileSync(path, 'utf8');
    const at = original.indexOf(bug.from);
    t.ok(at >= 0 && original.indexOf(bug.from, at + 1) < 0, `${bug.name}: the code to mutate is found exactly once in ${bug.file}`);
    if (at < 0) continue;
    writeFileSync(path, original.slice(0, at) + bug.to + original.slice(at + bug.from.length));
    try {
      const by = await caught(bug);
      t.ok(by !== null, `${bug.name}: caught${by ? ` by ${by}` : ' by nothing'}`);
    } finally {
      writeFileSync(path, original);
    }
  }
});
