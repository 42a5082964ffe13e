// What a command leaves behind: setsid children, background children, a
// child holding stdout, 200 children. With a cgroup per execution nothing
// survives the execution; with the process group alone (no cgroup v2 here),
// children that leave the group survive and the execution still ends.

import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShellExecutor } from '../../../plugins/executors/shell/shell-executor.js';
import type { ExecuteResult } from '../../../plugins/sdk/executor.js';

/** Pids whose command line contains `token` (a number no other process uses). */
function processesWith(token: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').includes(token)) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

async function noneLeft(token: string): Promise<number[]> {
  const deadline = Date.now() + 10_000;
  let left = processesWith(token);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    left = processesWith(token);
  }
  return left;
}

function killAll(token: string): void {
  for (const pid of processesWith(token)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
}

let tokenSeq = 0;
/** A sleep duration unique to this test run, to find its processes by. */
function token(): string {
  return String(7_000_000 + process.pid * 100 + ++tokenSeq);
}

async function run(shell: ShellExecutor, command: string, extra: Record<string, string> = {}, signal = new AbortController().signal): Promise<{ result: ExecuteResult; output: string }> {
  const chunks: Buffer[] = [];
  const result = await shell.execute({ jobName: 'tree', config: { shell: 'true', command, ...extra }, executionId: '1', scheduledAtMs: 0, attempt: 1 }, {
    write: (c) => { chunks.push(Buffer.from(c)); },
  }, signal);
  return { result, output: Buffer.concat(chunks).toString() };
}

for (const [how, contained] of [['born inside it', new ShellExecutor()], ['moved in by the shell wrapper', new ShellExecutor({ cgroups: 'wrapper' })]] as const) {
t.test(`with a cgroup per execution (the command ${how}) nothing outlives the execution`, { skip: contained.containment === 'cgroup' ? false : 'no writable cgroup v2 hierarchy on this machine' }, async (t) => {
  t.test('the command runs in its own cgroup, and this process stays in its own', async (t) => {
    const own = readFileSync('/proc/self/cgroup', 'utf8');
    const { result, output } = await run(contained, 'cat /proc/self/cgroup');
    t.match(result, { success: true });
    t.match(output, /^0::.*\/clocktower-\d+\/x\d+$/m, 'in an execution cgroup');
    t.equal(readFileSync('/proc/self/cgroup', 'utf8'), own, 'this process is back where it was');
  });

  t.test('a setsid child is killed on timeout', async (t) => {
    const k = token();
    t.teardown(() => killAll(k));
    const { result } = await run(contained, `setsid sleep ${k} & sleep ${k}`, { timeout: '300ms' });
    t.match(result, { success: false, error: /timed out after 300ms/ });
    t.same(await noneLeft(k), [], 'no process left');
  });

  t.test('a setsid child is killed on stop', async (t) => {
    const k = token();
    t.teardown(() => killAll(k));
    const ac = new AbortController();
    const running = run(contained, `setsid sleep ${k} & echo started; sleep ${k}`, {}, ac.signal);
    const deadline = Date.now() + 10_000;
    while (processesWith(k).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    t.match((await running).result, { success: false, error: 'stopped' });
    t.same(await noneLeft(k), [], 'no process left');
  });

  t.test('background children do not outlive a job that succeeded', async (t) => {
    const k = token();
    t.teardown(() => killAll(k));
    const { result, output } = await run(contained, `sleep ${k} & setsid sleep ${k} & echo done`);
    t.match(result, { success: true, exitCode: 0 });
    t.equal(output, 'done\n');
    t.same(await noneLeft(k), [], 'no process left');
  });

  t.test('a background child holding stdout does not keep the execution running', async (t) => {
    const k = token();
    t.teardown(() => killAll(k));
    const { result, output } = await run(contained, `setsid sh -c 'echo child; sleep ${k}' & sleep 0.2; echo parent done`);
    t.match(result, { success: true, exitCode: 0 });
    t.match(output, /child/);
    t.match(output, /parent done/);
    t.same(await noneLeft(k), [], 'no process left');
  });

  t.test('200 children, some double-forked, all killed', async (t) => {
    const k = token();
    t.teardown(() => killAll(k));
    const { result } = await run(contained, `for i in $(seq 100); do sleep ${k} & (setsid sleep ${k} &) ; done; sleep ${k}`, { timeout: '2s' });
    t.match(result, { success: false, error: /timed out/ });
    t.same(await noneLeft(k), [], 'no process left');
  });

  t.test('errors keep their words through the wrapper', async (t) => {
    t.match((await contained.execute({ jobName: 'x', config: { command: 'no-such-binary-xyz' }, executionId: '1', scheduledAtMs: 0, attempt: 1 }, { write: () => {} }, new AbortController().signal)), { success: false, error: 'executable not found: no-such-binary-xyz' });
    const dir = mkdtempSync(join(tmpdir(), 'ct-noexec-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'script'), 'echo hi\n', { mode: 0o644 });
    t.match((await contained.execute({ jobName: 'x', config: { command: join(dir, 'script') }, executionId: '1', scheduledAtMs: 0, attempt: 1 }, { write: () => {} }, new AbortController().signal)), { success: false, error: `permission denied: ${join(dir, 'script')}` });
    t.match(await run(contained, 'exit 7'), { result: { success: false, exitCode: 7 } });
  });
});
}

t.test('with the process group alone', async (t) => {
  const grouped = new ShellExecutor({ cgroups: false, drainMs: 200 });
  t.equal(grouped.containment, 'process group');

  t.test('background children in the group are killed when the job ends', async (t) => {
    const k = token();
    t.teardown(() => killAll(k));
    const { result } = await run(grouped, `sleep ${k} & sleep ${k} & echo done`);
    t.match(result, { success: true, exitCode: 0 });
    t.same(await noneLeft(k), [], 'no process left');
  });

  t.test('a setsid child holding stdout survives, and the execution still ends', async (t) => {
    const k = token();
    t.teardown(() => killAll(k));
    const { result, output } = await run(grouped, `setsid sh -c 'echo child; exec sleep ${k}' & sleep 0.2; echo parent done`);
    t.match(result, { success: true, exitCode: 0 });
    t.match(output, /parent done/);
    t.equal(processesWith(k).length, 1, 'the setsid child left the process group and lives on (documented)');
  });
});
