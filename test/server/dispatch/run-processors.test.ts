// A job's processors on a finished execution, through the in-process host:
// order, chaining, and every failure recorded without losing the result.

import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InProcessProcessorHost, builtinProcessors } from '../../../bin/in-process-processor-host.js';
import { ProcessorRegistry } from '../../../plugins/sdk/processor-registry.js';
import type { Processor } from '../../../plugins/sdk/processor.js';
import { runProcessors, type ProcessorRun } from '../../../server/dispatch/run-processors.js';
import type { ExecutionResult } from '../../../server/state/commands.js';
import type { Execution } from '../../../server/state/execution.js';

const dir = mkdtempSync(join(tmpdir(), 'ct-run-processors-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const seen: { name: string; output: string; config: Record<string, string> }[] = [];
/** A processor that records what it got and appends its name to the output. */
const tagging = (name: string): Processor => ({
  name,
  process(e, config) {
    seen.push({ name, output: Buffer.from(e.output).toString(), config: { ...config } });
    return Promise.resolve({ ...e, output: Buffer.concat([Buffer.from(e.output), Buffer.from(`+${name}`)]), success: !e.success, jobName: 'changed' });
  },
});
const failing: Processor = { name: 'failing', process: () => Promise.reject(new Error('disk on fire')) };
const deaf: Processor = { name: 'deaf', process: () => new Promise(() => {}) };
const host = new InProcessProcessorHost(new ProcessorRegistry([...builtinProcessors(), tagging('a'), tagging('b'), failing, deaf]));

const execution: Execution = {
  id: '5', jobName: 'job', group: '5', attempt: 1, trigger: 'schedule', scheduledAtMs: 1000, nodeName: 'node1', notBeforeMs: 1000,
  startedAtMs: 1000, finishedAtMs: null, state: 'running', output: '', outputTruncated: false, exitCode: null, error: '',
};
const result: ExecutionResult = { id: '5', finishedAtMs: 2000, state: 'succeeded', output: 'hello', outputTruncated: false, exitCode: 0, error: '' };
const run = (processors: ProcessorRun['processors'], over: Partial<ProcessorRun> = {}) =>
  runProcessors({ host, processors, reportingNode: 'leader1', timeoutMs: 5_000, outputLimit: 1024, ...over }, execution, result);

t.test('processors run in the order the job lists them, each on what the one before returned', async (t) => {
  seen.length = 0;
  const out = await run({ b: { x: '1' }, a: {} });
  t.same(seen, [
    { name: 'b', output: 'hello', config: { x: '1', reporting_node: 'leader1' } },
    { name: 'a', output: 'hello+b', config: { reporting_node: 'leader1' } },
  ]);
  t.same(out, { ...result, output: 'hello+b+a' }, 'only the output changes; the state is the executor\'s');
});

t.test('a failing, unknown or overrunning processor is recorded on the error, and the others still run', async (t) => {
  const out = await run({ failing: {}, ghost: {}, deaf: {}, a: {} }, { timeoutMs: 50 });
  t.equal(out.state, 'succeeded', 'the result is kept');
  t.equal(out.output, 'hello+a');
  t.equal(out.error, [
    'processor failing failed: disk on fire',
    'processor ghost failed: unknown processor "ghost" (available: a, b, deaf, failing, files, fluent, log, syslog)',
    'processor deaf failed: timed out after 50 ms',
  ].join('; '));
  const failedRun = await runProcessors({ host, processors: { failing: {} }, reportingNode: 'n', timeoutMs: 50, outputLimit: 1024 }, execution, { ...result, state: 'failed', error: 'exit status 2' });
  t.equal(failedRun.error, 'exit status 2; processor failing failed: disk on fire', "appended to the executor's error");
});

t.test('without a processor host, processors are recorded as failed', async (t) => {
  const out = await run({ log: {} }, { host: undefined });
  t.equal(out.error, 'processor log failed: this server runs no processors');
  t.equal(out.output, 'hello');
});

t.test('a processor that grows the output past the limit leaves its tail', async (t) => {
  const out = await run({ a: {} }, { outputLimit: 4 });
  t.equal(out.output, 'lo+a');
  t.equal(out.outputTruncated, true);
});

t.test('files then log: the placeholder of the first is what the second sees', async (t) => {
  const out = await run({ files: { log_dir: dir }, a: {} });
  t.equal(readFileSync(join(dir, 'job-5.log'), 'utf8'), 'hello');
  t.equal(out.output, `${join(dir, 'job-5.log')}+a`);
});
