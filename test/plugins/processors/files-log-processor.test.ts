// The files processor on a real directory, and the log processor's output.

import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesProcessor } from '../../../plugins/processors/files/files-processor.js';
import { LogProcessor } from '../../../plugins/processors/log/log-processor.js';
import type { ExecutionRecord } from '../../../plugins/sdk/processor.js';

const dir = mkdtempSync(join(tmpdir(), 'ct-files-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const never = new AbortController().signal;
const execution: ExecutionRecord = {
  id: '7', jobName: 'nightly-report', startedAtMs: 1_000, finishedAtMs: 2_000, success: true,
  output: Buffer.from('report done\n'), nodeName: 'node1', attempt: 1, group: '7', scheduledAtMs: 1_000,
};
const text = (e: ExecutionRecord) => Buffer.from(e.output).toString();

t.test('files: writes <log_dir>/<job>-<id>.log (0644), creating log_dir', async (t) => {
  const files = new FilesProcessor();
  const logDir = join(dir, 'deep', 'logs');
  const out = await files.process(execution, { log_dir: logDir }, never);
  const path = join(logDir, 'nightly-report-7.log');
  t.equal(text(out), path, 'without forward, the output is the path');
  t.equal(readFileSync(path, 'utf8'), 'report done\n');
  t.equal(statSync(path).mode & 0o777, 0o644 & ~process.umask());
  const kept = await files.process({ ...execution, id: '8' }, { log_dir: logDir, forward: 'true' }, never);
  t.equal(text(kept), 'report done\n', 'forward keeps the output');
});

t.test('files: failures and bad configs are clear errors', async (t) => {
  const files = new FilesProcessor();
  const notADir = join(dir, 'a-file');
  writeFileSync(notADir, '');
  await t.rejects(files.process(execution, { log_dir: notADir }, never), { message: /^cannot write .*nightly-report-7\.log: EEXIST|ENOTDIR/ });
  t.match(files.validate({ log_dir: 'logs' }), /log_dir must be an absolute path, got "logs"/);
  await t.rejects(files.process(execution, { log_dir: 'logs' }, never), { message: /log_dir must be an absolute path/ });
  t.match(files.validate({ logdir: '/x' }), /unknown config key "logdir" \(known: log_dir, forward\)/);
  await t.rejects(files.process({ ...execution, jobName: '../escape' }, { log_dir: dir }, never), { message: /not a plain file name/ });
  t.equal(files.validate({}), null);
});

t.test('log: BEGIN / END around the output, on out for a success and err for a failure', async (t) => {
  const out: string[] = [];
  const err: string[] = [];
  const log = new LogProcessor({ out: (s) => out.push(s), err: (s) => err.push(s) });
  t.equal(text(await log.process(execution, {})), 'Output in clocktower log');
  t.equal(text(await log.process({ ...execution, id: '9', success: false, output: Buffer.from('no newline') }, { forward: 'true' })), 'no newline');
  t.same(out, ['----- BEGIN OUTPUT job=nightly-report execution=7 -----\nreport done\n----- END OUTPUT -----\n']);
  t.same(err, ['----- BEGIN OUTPUT job=nightly-report execution=9 -----\nno newline\n----- END OUTPUT -----\n']);
  t.equal(log.validate({ forward: 'yes' }), null);
  t.match(log.validate({ level: 'debug' }), /unknown config key "level"/);
});
