// Processor plugins as real programs through PluginProcessor: a healthy
// one, every way one can fail (none takes the host down; each is a clear
// error), and the built-in processors' own programs.

import t from 'tap';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { builtinProcessors } from '../../bin/in-process-processor-host.js';
import { PluginProcessorHost } from '../../bin/plugin-processor-host.js';
import { PluginProcessor } from '../../plugins/sdk/plugin-processor.js';
import type { ExecutionRecord } from '../../plugins/sdk/processor.js';
import { Inbox } from '../support/log-receivers.js';

const dir = mkdtempSync(join(tmpdir(), 'ct-processor-plugins-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** An executable like an installed plugin: a script that runs a compiled program. */
function program(name: string, script: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\nexec "${process.execPath}" "${resolve(script)}" "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}
const fixture = program('clocktower-processor-fixture', 'dist/test/plugins/fixtures/fixture-processor.js');

const execution: ExecutionRecord = {
  id: '42', jobName: 'backup', startedAtMs: 1_700_000_000_000, finishedAtMs: 1_700_000_001_500, success: true,
  output: Buffer.from('line one\nline two\n'), nodeName: 'node1', attempt: 1, group: '42', scheduledAtMs: 1_700_000_000_000,
};
const never = new AbortController().signal;
const text = (e: ExecutionRecord) => Buffer.from(e.output).toString();

t.test('a healthy processor plugin serves concurrent calls from one process', async (t) => {
  const p = new PluginProcessor('fixture', fixture);
  t.teardown(() => p.close());
  const outs = await Promise.all([1, 2, 3].map((i) => p.process({ ...execution, id: String(i) }, { reporting_node: 'leader1' }, never)));
  for (const [i, out] of outs.entries()) {
    t.equal(out.id, String(i + 1));
    t.match(text(out), /^pid \d+ reporting_node=leader1: line one\nline two\n$/);
    t.same({ ...out, output: null }, { ...execution, id: String(i + 1), output: null }, 'everything else comes back as sent');
  }
  t.equal(new Set(outs.map((o) => /pid (\d+)/.exec(text(o))?.[1])).size, 1, 'one long-lived plugin process');
});

t.test("a processor's own error comes back as its message", async (t) => {
  const p = new PluginProcessor('fixture', fixture);
  t.teardown(() => p.close());
  await t.rejects(p.process(execution, { mode: 'fail' }, never), { message: 'the fixture refuses this execution' });
});

t.test('a processor plugin that crashes fails that call, and is started again for the next', async (t) => {
  const p = new PluginProcessor('fixture', fixture);
  t.teardown(() => p.close());
  const first = await p.process(execution, {}, never);
  await t.rejects(p.process(execution, { mode: 'crash' }, never), { message: /plugin fixture exited with code 3 while processing this execution/ });
  const after = await p.process(execution, {}, never);
  t.not(/pid (\d+)/.exec(text(after))?.[1], /pid (\d+)/.exec(text(first))?.[1], 'a new process');
});

t.test("aborting a call (the host's timeout) cancels it in the plugin", async (t) => {
  const lines = new Inbox<string>();
  const p = new PluginProcessor('fixture', fixture, { log: (l) => lines.push(l) });
  t.teardown(() => p.close());
  await p.start();
  const abort = new AbortController();
  const call = p.process(execution, { mode: 'hang' }, abort.signal);
  t.match((await lines.atLeast(1))[0], 'plugin fixture: hanging on 42');
  abort.abort(new Error('timed out after 50 ms'));
  await t.rejects(call, { message: 'timed out after 50 ms' });
  t.match((await lines.atLeast(2))[1], /plugin fixture: cancelled/);
  t.match(text(await p.process(execution, {}, never)), /^pid/, 'the plugin still serves');
});

t.test('start failures are clear errors', async (t) => {
  const missing = new PluginProcessor('ghost', join(dir, 'no-such-program'));
  await t.rejects(missing.process(execution, {}, never), { message: /plugin ghost could not start/ });
  await missing.close();
  const broken = program('clocktower-processor-broken', 'dist/test/plugins/fixtures/no-such-file.js');
  const p = new PluginProcessor('broken', broken);
  await t.rejects(p.process(execution, {}, never), { message: /plugin broken exited with code 1 before its handshake/ });
  await p.close();
});

t.test('the log processor program prints to its stdout / stderr, which reach the host log', async (t) => {
  const lines = new Inbox<string>();
  const p = new PluginProcessor('log', program('clocktower-processor-log', 'dist/plugins/processors/log/main.js'), { log: (l) => lines.push(l) });
  t.teardown(() => p.close());
  const kept = await p.process(execution, { forward: 'true' }, never);
  t.equal(text(kept), 'line one\nline two\n', 'forward keeps the output');
  const failed = await p.process({ ...execution, id: '43', success: false, output: Buffer.from('boom') }, {}, never);
  t.equal(text(failed), 'Output in clocktower log', 'without forward, a placeholder');
  const seen = await lines.atLeast(7);
  t.same(seen.filter((l) => l.includes('(stdout)')), [
    'plugin log (stdout): ----- BEGIN OUTPUT job=backup execution=42 -----',
    'plugin log (stdout): line one',
    'plugin log (stdout): line two',
    'plugin log (stdout): ----- END OUTPUT -----',
  ]);
  t.same(seen.filter((l) => !l.includes('(stdout)')), [
    'plugin log: ----- BEGIN OUTPUT job=backup execution=43 -----',
    'plugin log: boom',
    'plugin log: ----- END OUTPUT -----',
  ], 'a failure goes to stderr');
});

t.test('the files processor program writes the file', async (t) => {
  const p = new PluginProcessor('files', program('clocktower-processor-files', 'dist/plugins/processors/files/main.js'));
  t.teardown(() => p.close());
  const logDir = join(dir, 'logs');
  const out = await p.process(execution, { log_dir: logDir }, never);
  t.equal(text(out), join(logDir, 'backup-42.log'));
  t.equal(readFileSync(join(logDir, 'backup-42.log'), 'utf8'), 'line one\nline two\n');
});

t.test('PluginProcessorHost: programs by name, alongside the built-ins', async (t) => {
  const lines = new Inbox<string>();
  const host = new PluginProcessorHost(new Map([['fixture', fixture], ['log', program('clocktower-processor-log', 'dist/plugins/processors/log/main.js')]]), {
    alongside: builtinProcessors(),
    log: (l) => lines.push(l),
  });
  t.teardown(() => host.close());
  t.same(host.processors(), ['files', 'fixture', 'fluent', 'log', 'syslog']);
  t.equal(host.validate('fixture', { anything: 'goes' }), null, 'a plugin program checks its own config when it runs');
  t.match(host.validate('ghost', {}), /unknown processor "ghost" \(available: files, fixture, fluent, log, syslog\)/);
  const processed = { ...execution, output: 'text output' };
  const out = await host.process('fixture', processed, { reporting_node: 'leader1' }, never);
  t.match(out, { ...processed, output: /^pid (\d+) reporting_node=leader1: text output$/ });
  t.not(/pid (\d+)/.exec(out.output)?.[1], String(process.pid), 'ran in the plugin program');
  t.equal((await host.process('log', processed, {}, never)).output, 'Output in clocktower log');
  t.match((await lines.atLeast(1))[0], 'plugin log (stdout): ----- BEGIN OUTPUT job=backup execution=42', 'the log program replaced the built-in log');
  await t.rejects(host.process('fixture', processed, { mode: 'fail' }, never), { message: 'the fixture refuses this execution' });
});
