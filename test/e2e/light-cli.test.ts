// The CLI against a real `clocktower light` process.

import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mainJs, startLight, tempDir, until } from '../support/light-process.js';

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [mainJs, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const dir = tempDir();
const server = await startLight(dir.path, ['--api-token', 'sesame']);
t.teardown(async () => {
  await server.stop();
  dir.remove();
});
const auth = ['--address', server.url, '--api-token', 'sesame'];

t.test('put, list, get, run, executions, toggle, delete', async (t) => {
  const file = join(dir.path, 'job.json');
  writeFileSync(file, JSON.stringify({ name: 'cli-job', schedule: '@manually', executor: 'shell', executor_config: { command: 'echo from-cli' } }));
  const put = await cli(['jobs', 'put', '-f', file, ...auth]);
  t.equal(put.code, 0, put.stderr);
  t.match(put.stdout, /cli-job/);
  const list = await cli(['jobs', 'list', ...auth]);
  t.equal(list.code, 0, list.stderr);
  t.match(list.stdout, /cli-job/);
  const get = await cli(['jobs', 'get', 'cli-job', ...auth]);
  t.match(JSON.parse(get.stdout), { name: 'cli-job', executor: 'shell' });
  const run = await cli(['jobs', 'run', 'cli-job', ...auth]);
  t.equal(run.code, 0, run.stderr);
  await until('the run to finish', async () => {
    const ex = await cli(['jobs', 'executions', 'cli-job', '--json', ...auth]);
    const list = JSON.parse(ex.stdout) as { finished_at: string | null; output: string }[];
    return list.find((e) => e.finished_at !== null && e.output === 'from-cli\n');
  });
  const table = await cli(['jobs', 'executions', 'cli-job', ...auth]);
  t.equal(table.code, 0, table.stderr);
  t.match(table.stdout, /^ID .*STATE +EXIT +NODE +ATTEMPT +OUTPUT\n/);
  t.match(table.stdout, /succeeded +0 +\S+ +1 +from-cli\n/, 'state, exit code and the output line');
  const toggle = await cli(['jobs', 'toggle', 'cli-job', ...auth]);
  t.equal(toggle.code, 0);
  t.match(toggle.stdout, /disabled/);
  const del = await cli(['jobs', 'delete', 'cli-job', ...auth]);
  t.equal(del.code, 0);
  const gone = await cli(['jobs', 'get', 'cli-job', ...auth]);
  t.equal(gone.code, 1);
  t.match(gone.stderr, /not found/);
});

t.test('stop a running execution', async (t) => {
  const file = join(dir.path, 'sleepy.json');
  writeFileSync(file, JSON.stringify({ name: 'sleepy', schedule: '@manually', executor: 'shell', executor_config: { command: 'sleep 60' } }));
  t.equal((await cli(['jobs', 'put', '-f', file, ...auth])).code, 0);
  t.equal((await cli(['jobs', 'run', 'sleepy', ...auth])).code, 0);
  const running = await until('the execution to start', async () => {
    const ex = await cli(['jobs', 'executions', 'sleepy', '--json', ...auth]);
    return (JSON.parse(ex.stdout) as { id: string; state: string }[]).find((e) => e.state === 'running');
  });
  const stop = await cli(['jobs', 'stop', 'sleepy', running.id, ...auth]);
  t.equal(stop.code, 0, stop.stderr);
  t.match(stop.stdout, `stopping execution ${running.id} of sleepy`);
  const stopped = await until('the execution to be stopped', async () => {
    const ex = await cli(['jobs', 'executions', 'sleepy', '--json', ...auth]);
    return (JSON.parse(ex.stdout) as { id: string; state: string }[]).find((e) => e.id === running.id && e.state === 'stopped');
  });
  t.ok(stopped, 'recorded as stopped');
  const missing = await cli(['jobs', 'stop', 'sleepy', ...auth]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /EXECUTION_ID/);
});

t.test('the token is required', async (t) => {
  const res = await cli(['jobs', 'list', '--address', server.url]);
  t.equal(res.code, 1);
  t.match(res.stderr, /token/i);
});

t.test('version and help', async (t) => {
  const v = await cli(['version']);
  t.equal(v.code, 0);
  t.match(v.stdout, /^clocktower \d+\.\d+\.\d+/);
  const help = await cli(['light', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /--data-dir/);
  const bad = await cli(['light', '--no-such-flag']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /no-such-flag/);
  t.match((await cli(['--version'])).stdout, /^clocktower \d+\.\d+\.\d+/);
  const typo = await cli(['light', '--data-dri', 'x']);
  t.equal(typo.code, 2);
  t.match(typo.stderr, /unknown flag --data-dri \(did you mean --data-dir\?\)/, 'an unknown flag names the closest known one');
  const encrypt = await cli(['agent', '--server', '--bootstrap-expect', '1', '--encrypt', 'c2VjcmV0']);
  t.equal(encrypt.code, 2);
  t.match(encrypt.stderr, /--encrypt is Dkron's gossip encryption key.*TLS/);
  for (const sub of ['list', 'get', 'put', 'delete', 'run', 'toggle', 'executions', 'stop', 'logs']) {
    const h = await cli(['jobs', sub, '--help']);
    t.equal(h.code, 0, `jobs ${sub} --help`);
    t.match(h.stdout, new RegExp(`^Usage: clocktower jobs ${sub}[^\\n]*\\n\\n\\S.*--address URL`, 's'), `jobs ${sub} --help describes it and its flags`);
  }
  for (const args of [['raft', 'list-peers', '--help'], ['raft', 'remove-peer', '--help'], ['leave', '--help'], ['version', '--help']]) {
    const h = await cli(args);
    t.equal(h.code, 0, args.join(' '));
    t.match(h.stdout, /^Usage: clocktower /);
  }
  const unknownJobs = await cli(['jobs', 'frobnicate']);
  t.equal(unknownJobs.code, 2);
  t.match(unknownJobs.stderr, /unknown jobs command "frobnicate"\n\nUsage: clocktower jobs <command>/, 'an unknown subcommand shows that command\'s help');
  const unknownRaft = await cli(['raft', 'frobnicate']);
  t.equal(unknownRaft.code, 2);
  t.match(unknownRaft.stderr, /unknown raft command "frobnicate"\n\nUsage: clocktower raft <command>/);
});

t.test('jobs logs: the stored output, or -f following it while it runs', async (t) => {
  const gate = join(dir.path, 'logs-gate');
  const job = { name: 'chatty', schedule: '@manually', executor: 'shell', executor_config: { shell: 'true', command: `echo first; while [ ! -f ${gate} ]; do sleep 0.05; done; echo second` } };
  writeFileSync(join(dir.path, 'chatty.json'), JSON.stringify(job));
  t.equal((await cli(['jobs', 'put', '-f', join(dir.path, 'chatty.json'), ...auth])).code, 0);
  const none = await cli(['jobs', 'logs', 'chatty', ...auth]);
  t.equal(none.code, 1);
  t.match(none.stderr, /job chatty has no executions yet/);
  t.equal((await cli(['jobs', 'run', 'chatty', ...auth])).code, 0);

  // -f prints "first" while the execution waits at its gate, then the rest once it goes on.
  const child = spawn(process.execPath, [mainJs, 'jobs', 'logs', 'chatty', '-f', ...auth], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((res) => child.once('close', (code) => res(code)));
  await new Promise<void>((res) => child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
    if (stdout.includes('first\n')) res();
  }));
  t.equal(stdout, 'first\n', 'the output so far, while it runs');
  writeFileSync(gate, '');
  t.equal(await exited, 0, stderr);
  t.equal(stdout, 'first\nsecond\n');
  const id = /\(execution (\d+) succeeded\)/.exec(stderr)?.[1] ?? 'none';
  t.not(id, 'none', 'it names the execution and its result');

  const stored = await cli(['jobs', 'logs', 'chatty', ...auth]);
  t.equal(stored.code, 0, stored.stderr);
  t.equal(stored.stdout, 'first\nsecond\n', 'without -f: the stored output of the newest execution');
  const byId = await cli(['jobs', 'logs', 'chatty', id, '--follow', ...auth]);
  t.equal(byId.stdout, 'first\nsecond\n', 'a finished execution by id, followed: its output at once');
  const missing = await cli(['jobs', 'logs', 'chatty', '999', '-f', ...auth]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /job chatty has no execution 999/);

  const failing = { name: 'failing', schedule: '@manually', executor: 'shell', executor_config: { shell: 'true', command: 'echo oops; exit 3' } };
  writeFileSync(join(dir.path, 'failing.json'), JSON.stringify(failing));
  t.equal((await cli(['jobs', 'put', '-f', join(dir.path, 'failing.json'), ...auth])).code, 0);
  t.equal((await cli(['jobs', 'run', 'failing', ...auth])).code, 0);
  const failed = await cli(['jobs', 'logs', 'failing', '-f', ...auth]);
  t.equal(failed.code, 1, 'a failed execution: exit status 1');
  t.match(failed.stdout, /^oops\n/);
  t.match(failed.stderr, /\(execution \d+ failed\)/);
});
