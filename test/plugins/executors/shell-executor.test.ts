import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShellExecutor, validateShellConfig } from '../../../plugins/executors/shell/shell-executor.js';
import { groupsRssBytes, parseMemLimit } from '../../../plugins/executors/shell/mem-limit.js';
import { splitCommand } from '../../../plugins/executors/shell/split-command.js';
import { ExecutorRegistry } from '../../../plugins/sdk/executor-registry.js';

const shell = new ShellExecutor();

async function run(config: Record<string, string>, signal = new AbortController().signal) {
  const chunks: Buffer[] = [];
  let bytes = 0;
  const result = await shell.execute({ jobName: 'job-x', config, executionId: '1', scheduledAtMs: 0, attempt: 1 }, {
    write: (c) => { bytes += c.length; if (chunks.length < 64) chunks.push(Buffer.from(c)); },
  }, signal);
  return { result, output: Buffer.concat(chunks).toString(), bytes };
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

t.test('success, failure and exit codes', async (t) => {
  t.match(await run({ command: 'echo hello world' }), { result: { success: true, exitCode: 0, error: '' }, output: 'hello world\n' });
  t.match(await run({ command: 'sh -c "exit 3"' }), { result: { success: false, exitCode: 3, error: 'exit status 3' } });
  t.match(await run({ command: '' }), { result: { success: false, error: /Command missing/, errorCode: 'CT_EXEC_CONFIG_INVALID' } });
  t.match(await run({ command: 'no-such-binary-abc --x' }), { result: { success: false, error: 'executable not found: no-such-binary-abc' } });
});

t.test('stdout and stderr are merged', async (t) => {
  const { output } = await run({ shell: 'true', command: 'echo one; echo two >&2; echo three' });
  // Each stream keeps its order; between the two pipes, order is as the bytes arrive.
  t.same(output.split('\n').filter(Boolean).sort(), ['one', 'three', 'two']);
  t.ok(output.indexOf('one') < output.indexOf('three'));
});

t.test('shell vs direct exec, quoting', async (t) => {
  t.same(splitCommand(`echo "a b" 'c d' e\\ f "x\\"y"`), ['echo', 'a b', 'c d', 'e f', 'x"y']);
  t.throws(() => splitCommand('echo "open'), /unterminated/);
  t.equal((await run({ command: 'echo $HOME' })).output, '$HOME\n', 'no shell expansion without shell=true');
  t.equal((await run({ command: 'echo $X_TEST', shell: 'true', env: 'X_TEST=expanded' })).output, 'expanded\n');
});

t.test('env, ENV_JOB_NAME, cwd, payload', async (t) => {
  t.equal((await run({ command: 'printenv ENV_JOB_NAME' })).output, 'job-x\n');
  t.equal((await run({ command: 'printenv B', env: 'A=1,B=two' })).output, 'two\n');
  const dir = mkdtempSync(join(tmpdir(), 'ct-cwd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.equal((await run({ command: 'pwd', cwd: dir })).output, `${realpathSync(dir)}\n`);
  t.equal((await run({ command: 'cat', payload: Buffer.from('from stdin').toString('base64') })).output, 'from stdin');
});

t.test('a timeout past the timer limit (2^31-1 ms) does not fire at once', async (t) => {
  t.match(await run({ command: 'sh -c "sleep 0.1; echo done"', timeout: '600h' }), { result: { success: true, exitCode: 0 }, output: 'done\n' });
});

t.test('a timeout kills the whole process tree', async (t) => {
  const { result, output } = await run({ shell: 'true', command: 'sleep 100 & echo $!; sleep 100', timeout: '300ms' });
  t.equal(result.success, false);
  t.match(result.error, /timed out after 300ms/);
  t.equal(result.errorCode, 'CT_EXEC_TIMEOUT');
  const grandchild = Number(output.split('\n')[0]);
  t.ok(grandchild > 0, 'the background sleep printed its pid');
  const deadline = Date.now() + 5000;
  while (alive(grandchild) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.notOk(alive(grandchild), 'the grandchild is gone too');
});

t.test('stop via the abort signal', async (t) => {
  const ac = new AbortController();
  const running = run({ command: 'sleep 100' }, ac.signal);
  setImmediate(() => ac.abort());
  const { result } = await running;
  t.equal(result.success, false);
  t.equal(result.error, 'stopped');
  t.equal(result.errorCode, 'CT_EXEC_STOPPED');
});

t.test('mem_limit kills a tree that grows past it', async (t) => {
  const grow = `node -e "const a=[];setInterval(()=>a.push(Buffer.alloc(16*1024*1024,1)),50)"`;
  const { result } = await run({ shell: 'true', command: grow, mem_limit: '150MB', timeout: '30s' });
  t.equal(result.success, false);
  t.match(result.error, /memory limit exceeded/);
  t.equal(result.errorCode, 'CT_EXEC_MEMORY_LIMIT');
  t.same([parseMemLimit('1024'), parseMemLimit('1.5KB'), parseMemLimit('2m'), parseMemLimit('1 GB')], [1024, 1536, 2 * 1024 ** 2, 1024 ** 3]);
  for (const bad of ['0', '-1MB', 'lots', '5PB']) t.throws(() => parseMemLimit(bad), /mem_limit/, bad);
  t.equal(validateShellConfig({ command: 'x', timeout: '10s', mem_limit: '1GB' }), null);
  t.match(validateShellConfig({ command: 'x', timeout: 'ten' }), /not a duration/);
});

t.test('50 MB of output streams through without being kept', async (t) => {
  const before = process.memoryUsage().rss;
  const { result, bytes } = await run({ shell: 'true', command: 'head -c 52428800 /dev/zero' });
  t.equal(result.success, true);
  t.equal(bytes, 52_428_800);
  t.ok(process.memoryUsage().rss - before < 40 * 1024 * 1024, 'memory did not grow by the output size');
});

t.test('the registry: unknown executors are a failed result', async (t) => {
  const reg = new ExecutorRegistry([shell]);
  const res = await reg.execute('teleport', { jobName: 'j', config: {}, executionId: '1', scheduledAtMs: 0, attempt: 1 }, { write() {} }, new AbortController().signal);
  t.match(res, { success: false, error: /unknown executor "teleport".*available: shell/ });
  const none = await reg.execute('', { jobName: 'j', config: {}, executionId: '1', scheduledAtMs: 0, attempt: 1 }, { write() {} }, new AbortController().signal);
  t.match(none.error, /no executor defined/);
});

t.test('what cannot start, or ends oddly, is a clear failure', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ct-noexec-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'not-executable.sh');
  writeFileSync(script, 'echo hi\n', { mode: 0o644 });
  t.match(await run({ command: script }), { result: { success: false, error: `permission denied: ${script}` } });
  t.match(await run({ command: 'true', cwd: join(dir, 'missing') }), { result: { success: false, error: /executable not found: true \(or no directory .*missing\)/ } });
  t.match(await run({ shell: 'true', command: 'kill -TERM $$' }), { result: { success: false, exitCode: -1, error: 'killed by SIGTERM' } });
  // A command that never reads its payload closes the pipe early: not a failure of the run.
  t.match(await run({ command: 'true', payload: Buffer.alloc(1024 * 1024, 1).toString('base64') }), { result: { success: true } });
});

t.test('mem_limit: one watch over many executions kills only the one over its limit', async (t) => {
  const grow = `node -e "const a=[];setInterval(()=>a.push(Buffer.alloc(16*1024*1024,1)),50)"`;
  const [over, under] = await Promise.all([
    run({ shell: 'true', command: grow, mem_limit: '150MB', timeout: '30s' }),
    run({ shell: 'true', command: 'sleep 2.5; echo done', mem_limit: '1GB', timeout: '30s' }),
  ]);
  t.match(over.result, { success: false, error: /memory limit exceeded/ });
  t.match(under, { result: { success: true }, output: 'done\n' });
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const ownGroup = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  const rss = await groupsRssBytes(new Set([ownGroup, 999_999_999]));
  t.ok((rss.get(ownGroup) ?? 0) >= process.memoryUsage().rss / 2, 'this process group holds at least this process');
  t.notOk(rss.has(999_999_999), 'a group with no process is absent');
});
