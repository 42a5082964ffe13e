// Starting light mode on a data directory: damage stops it with a clear
// message; a directory in use is refused.

import t from 'tap';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { call, mainJs, startLight, tempDir } from '../support/light-process.js';

function runLight(dataDir: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [mainJs, 'light', '--data-dir', dataDir, '--http-addr', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (stderr.includes('API on')) child.kill('SIGTERM');
    });
    child.once('close', (code) => resolve({ code, stderr }));
  });
}

t.test('a corrupt record in the middle of the log stops startup with a clear message', async (t) => {
  const dir = tempDir();
  t.teardown(() => dir.remove());
  const server = await startLight(dir.path);
  for (let i = 0; i < 5; i++) {
    t.equal((await call(server.url, 'POST', '/v1/jobs', { name: `j${i}`, schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } })).status, 201);
  }
  await server.stop();
  const raft = join(dir.path, 'raft');
  const seg = join(raft, readdirSync(raft).find((n) => n.endsWith('.seg'))!);
  const bytes = readFileSync(seg);
  bytes[40] = bytes[40]! ^ 0xff; // inside the first record
  writeFileSync(seg, bytes);
  const { code, stderr } = await runLight(dir.path);
  t.equal(code, 1);
  t.match(stderr, /\.seg is damaged at byte \d+ \(checksum mismatch[^)]*\); the server will not start on damaged data/);
});

t.test('a log cut to half its length stops startup: the entries known committed are missing', async (t) => {
  const dir = tempDir();
  t.teardown(() => dir.remove());
  const server = await startLight(dir.path);
  for (let i = 0; i < 20; i++) {
    t.equal((await call(server.url, 'POST', '/v1/jobs', { name: `j${i}`, schedule: '@manually', executor: 'shell', executor_config: { command: 'true' } })).status, 201);
  }
  await server.stop();
  const raft = join(dir.path, 'raft');
  const seg = join(raft, readdirSync(raft).find((n) => n.endsWith('.seg'))!);
  const half = Math.floor(statSync(seg).size / 2);
  truncateSync(seg, half);
  const { code, stderr } = await runLight(dir.path);
  t.equal(code, 1);
  t.match(stderr, /the log ends at index \d+, but entries up to index \d+ are known to be committed .*the server will not start on damaged data/);
  t.equal(statSync(seg).size, half, 'nothing more is cut');
});

t.test('a data directory in use by a running server is refused', async (t) => {
  const dir = tempDir();
  t.teardown(() => dir.remove());
  const server = await startLight(dir.path);
  t.teardown(() => server.stop());
  const { code, stderr } = await runLight(dir.path);
  t.equal(code, 1);
  t.match(stderr, /is in use by process \d+/);
});
