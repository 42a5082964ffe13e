// Executor.Session against real plugin processes: executions share one
// long-lived stream per program (concurrently, stopped one by one), a crash
// fails what was in flight on it, output is flow-controlled by credit, and a
// plugin built before Session (Execute calls only) still works.

import t from 'tap';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ByteTail } from '../../common/byte-tail.js';
import { pluginProto } from '../../proto/load-proto.js';
import type { ExecutorClient } from '../../proto/generated/clocktower/plugin/v1/Executor.js';
import type { SessionEvent__Output } from '../../proto/generated/clocktower/plugin/v1/SessionEvent.js';
import type { ExecuteResult } from '../../plugins/sdk/executor.js';
import { PluginExecutor } from '../../plugins/sdk/plugin-executor.js';
import { PluginProcess } from '../../plugins/sdk/plugin-process.js';

const dir = mkdtempSync(join(tmpdir(), 'ct-session-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function program(name: string, script: string, vars = ''): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${vars}exec "${process.execPath}" "${resolve(script)}" "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}
const fixture = () => program('clocktower-executor-fixture', 'dist/test/plugins/fixtures/fixture-plugin.js');
const oldPlugin = () => program('clocktower-executor-old', 'dist/test/plugins/fixtures/old-plugin.js');
const shell = () => program('clocktower-executor-shell', 'dist/plugins/executors/shell/main.js');

async function run(p: PluginExecutor, config: Record<string, string>, id: string, signal = new AbortController().signal): Promise<{ result: ExecuteResult; output: string; bytes: number }> {
  let output = '';
  let bytes = 0;
  const result = await p.execute({ jobName: 'job', config, executionId: id, scheduledAtMs: 1000, attempt: 1 }, {
    write: (c) => { bytes += c.length; if (output.length < 10_000) output += Buffer.from(c).toString(); },
  }, signal);
  return { result, output, bytes };
}
const pidOf = (r: { output: string }) => /pid (\d+)/.exec(r.output)?.[1];

t.test('executions go over one session; many at once each get their own output and result', async (t) => {
  const p = new PluginExecutor('fixture', fixture());
  t.teardown(() => p.close());
  t.same(await p.transports(), ['none yet']);
  const runs = await Promise.all(Array.from({ length: 300 }, (_, i) => run(p, { text: `hello ${i}` }, `e${i}`)));
  for (const [i, r] of runs.entries()) {
    t.same(r.result, { success: true, exitCode: 0, error: '' }, `e${i}`);
    t.match(r.output, `hello ${i} (execution e${i},`, `e${i}`);
  }
  t.equal(new Set(runs.map(pidOf)).size, 1, 'one plugin process');
  t.same(await p.transports(), ['session']);
  const params = await p.execute({ jobName: 'job', config: { mode: 'params' }, executionId: 'p', scheduledAtMs: 1, attempt: 1, params: { who: 'ada' } }, { write: () => {} }, new AbortController().signal);
  t.same(params, { success: true, exitCode: 0, error: '', paramsOut: { seen: '1' } }, 'run parameters in, parameters out');
});

t.test('a stop over the session ends that execution only', async (t) => {
  const p = new PluginExecutor('fixture', fixture());
  t.teardown(() => p.close());
  await p.start();
  const a = new AbortController();
  const b = new AbortController();
  const waitA = run(p, { mode: 'wait' }, 'a', a.signal);
  const waitB = run(p, { mode: 'wait' }, 'b', b.signal);
  t.match((await run(p, { text: 'meanwhile' }, 'c')).result, { success: true }, 'others run meanwhile');
  a.abort();
  t.match((await waitA).result, { success: false, error: 'stopped' });
  let bDone = false;
  void waitB.then(() => { bDone = true; });
  t.match((await run(p, { text: 'still' }, 'd')).result, { success: true });
  t.equal(bDone, false, 'the other waiting execution still runs');
  b.abort();
  t.match((await waitB).result, { success: false, error: 'stopped' });
  const already = new AbortController();
  already.abort();
  t.match((await run(p, { mode: 'wait' }, 'e', already.signal)).result, { success: false, error: 'stopped' }, 'an execution stopped before it was sent is stopped at once');
  t.same(await p.transports(), ['session']);
});

t.test('a plugin that crashes mid-session fails every execution in flight on it; the next one starts it again', async (t) => {
  const restarts: string[] = [];
  const p = new PluginExecutor('fixture', fixture(), { onRestart: (n) => restarts.push(n) });
  t.teardown(() => p.close());
  const before = await run(p, { text: 'before' }, 'b0');
  const waits = [1, 2, 3].map((i) => run(p, { mode: 'wait' }, `w${i}`));
  const crashed = await run(p, { mode: 'crash' }, 'x');
  t.match(crashed.result, { success: false, error: /plugin fixture exited with code 3 while running this execution/, errorCode: 'CT_EXEC_PLUGIN_CRASHED' });
  t.match(crashed.output, 'about to crash', 'the output sent before the crash is kept');
  for (const w of await Promise.all(waits)) {
    t.match(w.result, { success: false, exitCode: -1, error: /plugin fixture exited with code 3 while running this execution/, errorCode: 'CT_EXEC_PLUGIN_CRASHED' });
  }
  const after = await Promise.all([run(p, { text: 'after' }, 'a1'), run(p, { text: 'after' }, 'a2')]);
  t.ok(after.every((r) => r.result.success), 'served again');
  t.not(pidOf(after[0] as { output: string }), pidOf(before), 'by a new process');
  t.same(restarts, ['fixture']);
  t.same(await p.transports(), ['session'], 'over a new session');
});

t.test('a plugin built before Session (Execute and Stop only) still works, with an Execute call each', async (t) => {
  const p = new PluginExecutor('old', oldPlugin());
  t.teardown(() => p.close());
  const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => run(p, { text: `hi ${i}` }, `o${i}`)));
  for (const [i, r] of runs.entries()) {
    t.same(r.result, { success: true, exitCode: 0, error: '' });
    t.match(r.output, `hi ${i} (old plugin, execution o${i},`);
  }
  t.same(await p.transports(), ['calls'], 'Session is not asked for again');
  const ac = new AbortController();
  const waiting = run(p, { mode: 'wait' }, 'w', ac.signal);
  t.match((await run(p, { text: 'meanwhile' }, 'm')).result, { success: true });
  ac.abort();
  t.match((await waiting).result, { success: false, error: 'stopped' }, 'a stop reaches it through Stop');
  const flood = await run(p, { mode: 'flood', bytes: String(5 * 1024 * 1024) }, 'f');
  t.equal(flood.bytes, 5 * 1024 * 1024);
  t.equal(await p.validate({ any: 'thing' }), null, 'no Validate: the save goes through');
});

t.test('a failure carries its code from the plugin process; one that names none, and one from an older plugin, get CT_EXEC_FAILED', async (t) => {
  const p = new PluginExecutor('fixture', fixture());
  t.teardown(() => p.close());
  t.same((await run(p, { mode: 'coded', code: 'CT_EXEC_TIMEOUT' }, 'c1')).result, { success: false, exitCode: 7, error: 'failed with a code', errorCode: 'CT_EXEC_TIMEOUT' }, 'over the session');
  t.same((await run(p, { mode: 'fail' }, 'c2')).result, { success: false, exitCode: 1, error: 'failed without a code', errorCode: 'CT_EXEC_FAILED' }, 'the SDK names none: CT_EXEC_FAILED on the wire');
  t.same((await run(p, { text: 'fine' }, 'c3')).result.errorCode, undefined, 'a success has none');
  t.same(await p.transports(), ['session']);
  const old = new PluginExecutor('old', oldPlugin());
  t.teardown(() => old.close());
  const r = await run(old, { mode: 'fail' }, 'o1');
  t.same(r.result, { success: false, exitCode: 1, error: 'failed the old way', errorCode: 'CT_EXEC_FAILED' }, 'no error_code on the wire: the host derives CT_EXEC_FAILED');
  t.same(await old.transports(), ['calls']);
  // A rejection from Validate crosses with its code too (the host maps it to CT_EXEC_CONFIG_INVALID either way).
  const proto = pluginProto().clocktower.plugin.v1;
  const plugin = new PluginProcess<ExecutorClient>('fixture', fixture(), (target) => new proto.Executor(target, grpc.credentials.createInsecure()) as unknown as ExecutorClient);
  t.teardown(() => plugin.close());
  const { client } = await plugin.ensure();
  const answer = await new Promise<{ error: string; error_code: string }>((resolve, reject) => client.Validate({ config: { mode: 'invalid' } }, (err, res) => (err || !res ? reject(err ?? new Error('no answer')) : resolve(res))));
  t.same(answer, { error: 'mode "invalid" is not a mode of the fixture', error_code: 'CT_EXEC_CONFIG_INVALID' });
});

t.test('results of a burst are split into messages the host can receive', async (t) => {
  const p = new PluginExecutor('fixture', fixture());
  t.teardown(() => p.close());
  await p.start();
  // 200 results of 64 KiB each in one turn: 12.5 MiB, past gRPC's 4 MiB message limit.
  const runs = await Promise.all(Array.from({ length: 200 }, (_, i) => run(p, { mode: 'long-error', bytes: String(64 * 1024) }, `l${i}`)));
  t.ok(runs.every((r) => r.result.exitCode === 1 && r.result.error.length === 64 * 1024), 'every result whole');
  t.same(await p.transports(), ['session']);
});

t.test('a plugin that takes a Session but never answers on it gets Execute calls', async (t) => {
  const p = new PluginExecutor('silent', program('clocktower-executor-silent', 'dist/test/plugins/fixtures/old-plugin.js', 'OLD_PLUGIN_SILENT_SESSION=1 '), { startTimeoutMs: 1000 });
  t.teardown(() => p.close());
  const runs = await Promise.all([1, 2].map((i) => run(p, { text: `hi ${i}` }, `q${i}`)));
  for (const r of runs) t.same(r.result, { success: true, exitCode: 0, error: '' });
  t.same(await p.transports(), ['calls']);
});

t.test('the plugin sends no more output than the host has granted credit for', async (t) => {
  const proto = pluginProto().clocktower.plugin.v1;
  const plugin = new PluginProcess<ExecutorClient>('fixture', fixture(), (target) => new proto.Executor(target, grpc.credentials.createInsecure()) as unknown as ExecutorClient);
  t.teardown(() => plugin.close());
  const { client } = await plugin.ensure();
  const total = 50 * 1024 * 1024;
  const step = 1024 * 1024;
  const call = client.Session();
  let granted = 256 * 1024;
  let received = 0;
  let overdrawn = 0;
  let messages = 0;
  const result = await new Promise<{ success: boolean; receivedThen: number }>((res, rej) => {
    call.on('error', rej);
    call.once('data', () => {
      // The plugin's first message (no items): Session is served.
      call.write({ commands: [{ execute: { request: { job_name: 'j', execution_id: 'big', config: { mode: 'flood', bytes: String(total) } }, credit_bytes: granted } }] });
      call.on('data', (m: SessionEvent__Output) => {
        messages++;
        for (const item of m.items) {
          if (item.output) {
            received += item.output.data.length;
            if (received > granted) overdrawn = Math.max(overdrawn, received - granted);
            if (received === granted) {
              granted += step;
              call.write({ commands: [{ credit: { execution_id: 'big', bytes: step } }] });
            }
          } else if (item.result) {
            res({ success: item.result.success, receivedThen: received });
          }
        }
      });
    });
  });
  call.cancel();
  t.equal(overdrawn, 0, 'never past the credit granted');
  t.equal(result.receivedThen, total, 'the result comes after all the output');
  t.ok(result.success);
  t.ok(messages <= total / (64 * 1024), `${messages} messages`);
});

t.test('50 MB of output through the session: the host keeps its tail and finishes', async (t) => {
  const total = 50 * 1024 * 1024;
  const limit = 256 * 1024;
  for (const [name, p, config] of [
    ['fixture', new PluginExecutor('fixture', fixture()), { mode: 'flood', bytes: String(total) }],
    ['shell', new PluginExecutor('shell', shell()), { command: `head -c ${total} /dev/zero` }],
  ] as const) {
    const tail = new ByteTail(limit);
    let bytes = 0;
    const result = await p.execute({ jobName: 'job', config, executionId: 'big', scheduledAtMs: 1, attempt: 1 }, {
      write: (c) => { bytes += c.length; tail.write(c); },
    }, new AbortController().signal);
    t.same(result, { success: true, exitCode: 0, error: '' }, name);
    t.equal(bytes, total, `${name}: every byte arrived`);
    t.equal(tail.length, limit, `${name}: the tail is the limit`);
    t.ok(tail.dropped, `${name}: the rest was dropped`);
    t.same(await p.transports(), ['session']);
    await p.close();
  }
});

t.test('a host that stops its plugin still gets the results of what ran on the session', async (t) => {
  const p = new PluginExecutor('fixture', fixture());
  await p.start();
  const waits = [1, 2].map((i) => run(p, { mode: 'wait' }, `s${i}`));
  t.match((await run(p, { text: 'up' }, 'u')).result, { success: true }, 'the waiting ones were sent');
  await p.close();
  for (const w of await Promise.all(waits)) t.match(w.result, { success: false, error: 'stopped' }, 'stopped by the SIGTERM, result sent over the session');
});
