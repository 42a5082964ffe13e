// The live output stream on a real 3-server cluster, asked of a follower:
// only the leader holds a running execution's output, so the follower relays
// the leader's server-sent events as they come (output while the job runs,
// then its result), and `clocktower jobs logs -f` through the follower prints
// the same.

import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { call, mainJs, tempDir, until, type ExecutionJson } from '../support/light-process.js';
import { readSse } from '../support/sse.js';
import { agreedLeader, serverSpecs, startServerProcess, type ServerProcess } from '../support/cluster-processes.js';

const run = promisify(execFile);
const root = tempDir('ct-stream-');
const specs = await serverSpecs(root.path, ['s1', 's2', 's3']);
const servers: ServerProcess[] = await Promise.all(specs.map((s) => startServerProcess(s)));
t.teardown(async () => {
  await Promise.all(servers.map((s) => s.kill9()));
  root.remove();
});

const events = async (url: string) => {
  const r = await readSse(url);
  return { status: r.status, list: r.events };
};

t.test('a follower relays a running execution\'s output stream from the leader, and jobs logs -f works through it', async (t) => {
  const leader = await agreedLeader(servers);
  const follower = servers.find((s) => s !== leader) as ServerProcess;
  const job = { name: 'ticker', schedule: '@manually', executor: 'shell', executor_config: { shell: 'true', command: 'for i in 1 2 3 4 5 6 7 8; do echo line $i; sleep 0.15; done' } };
  t.equal((await call(follower.url, 'POST', '/v1/jobs', job)).status, 201, 'created through the follower');
  t.equal((await call(follower.url, 'POST', '/v1/jobs/ticker/run')).status, 202);
  const running = await until('the execution to run', async () => {
    const list = (await call(leader.url, 'GET', '/v1/jobs/ticker/executions')).body as ExecutionJson[];
    return list.find((e) => e.state === 'running');
  });
  const [live, cli] = await Promise.all([
    events(`${follower.url}/v1/jobs/ticker/executions/${running.id}/stream`),
    run(process.execPath, [mainJs, 'jobs', 'logs', 'ticker', running.id, '-f', '--address', follower.url]),
  ]);
  t.equal(live.status, 200);
  const outputs = live.list.filter((e) => e.event === 'output');
  t.equal(outputs.map((e) => JSON.parse(e.data) as string).join(''), [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `line ${i}\n`).join(''), 'every line, in order');
  t.ok(outputs.length >= 2 && (outputs.at(-1)?.at ?? 0) - (outputs[0]?.at ?? 0) > 300, `the lines came as they were printed, not at the end (${outputs.length} events)`);
  const done = live.list.at(-1);
  t.equal(done?.event, 'done');
  t.match(JSON.parse(done?.data ?? '{}'), { id: running.id, state: 'succeeded' });
  t.match(cli.stdout, /line 1\n[\s\S]*line 8\n/, 'jobs logs -f through the follower prints the output');
});
