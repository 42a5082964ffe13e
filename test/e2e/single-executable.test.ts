// The single executable (npm run package), built once here into a temp dir,
// copied alone into another one (no node_modules, no sources beside it) and
// run with a PATH that has no `node` (as root, also in a private mount
// namespace with every node binary masked): --version, light mode with a shell and
// an http job, every bundled executor started as the executable itself in
// its plugin role (grpc through server reflection, pubsub and gcppubsub
// against the test servers, nats against a real nats-server when one is
// installed; kafka and rabbitmq against a closed port, failing with their
// client library's own error), a --plugin-dir program winning over a
// bundled executor, a one-server cluster with an agent of its own process
// (the Raft, cluster and agent protos come from the executable too), and a
// 3-server cluster that survives a kill -9 of its leader.

import t from 'tap';
import { connect } from 'nats';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { call, executions, startServerProgram, tempDir, until, type ExecutionJson, type LightProcess } from '../support/light-process.js';
import { freePort } from '../support/free-port.js';
import { agreedLeader, serverSpecs, startServerProcess } from '../support/cluster-processes.js';
import { natsServerProgram, startNatsServer } from '../support/nats-server.js';
import { startEchoServer } from '../support/grpc-test-servers.js';
import { startPubSubServer } from '../support/pubsub-test-server.js';
import { bundledExecutorNames } from '../../bin/bundled-plugins.js';

const require = createRequire(import.meta.url);
const missing = ['esbuild', 'postject'].filter((m) => {
  try {
    require.resolve(m);
    return false;
  } catch {
    return true;
  }
});
if (missing.length > 0) {
  t.plan(0, `skip: the single executable cannot be built here: ${missing.join(' and ')} not installed (npm ci installs them)`);
} else {
  await suite();
}

async function suite(): Promise<void> {
  const version = (JSON.parse(readFileSync(resolve('package.json'), 'utf8')) as { version: string }).version;
  const tmp = tempDir('ct-sea-');
  t.teardown(() => tmp.remove());
  const built = join(tmp.path, 'build', 'clocktower');
  const build = spawnSync(process.execPath, [resolve('scripts/package.mjs'), '--out', built], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run package failed:\n${build.stderr}${build.stdout}`);
  t.comment(build.stdout.trim());

  // Alone in a folder of its own, run with nothing of Node.js reachable.
  const home = join(tmp.path, 'alone');
  mkdirSync(home);
  const exe = join(home, 'clocktower');
  copyFileSync(built, exe);
  chmodSync(exe, 0o755);
  const env = { PATH: '/nonexistent', HOME: home, TMPDIR: tmp.path };
  // As root, also in a private mount namespace where every node binary on the machine is masked
  // (bind-mounted over with /dev/null), so not even an absolute path to node can be run.
  const masked = maskNode(exe, env);
  t.comment(masked ? `node is masked: ${masked.nodes.join(', ')}` : 'node is off the PATH (not masked: needs root and unshare -m)');
  const cmd = (args: string[]): [string, string[]] => (masked ? [masked.unshare, [...masked.prefix, exe, ...args]] : [exe, args]);
  const runExe = (args: string[]) => spawnSync(...cmd(args), { encoding: 'utf8', env, cwd: home });

  t.test('no node is reachable from where it runs', async (t) => {
    t.notOk(existsSync(join(home, 'node_modules')), 'no node_modules beside it');
    t.equal(spawnSync('node', ['--version'], { env }).error?.message.includes('ENOENT'), true, 'node is not on its PATH');
    if (masked) t.not(spawnSync(masked.unshare, [...masked.prefix, masked.nodes[0] ?? '', '--version'], { env }).status, 0, 'and no node binary runs');
  });

  t.test('--version and version print the package version', async (t) => {
    for (const args of [['--version'], ['version']]) {
      const r = runExe(args);
      t.equal(r.status, 0, r.stderr);
      t.equal(r.stdout.trim(), `clocktower ${version}`, args.join(' '));
    }
  });

  t.test('the plugin role refuses what it does not know', async (t) => {
    const r = runExe(['plugin', 'executor', 'nope']);
    t.equal(r.status, 2);
    t.match(r.stderr, /no bundled executor named "nope"/);
  });

  const stop = async (p: LightProcess) => {
    await p.stop();
  };

  t.test('light mode', async (t) => {
    const data = join(tmp.path, 'light-data');
    const light = await startServerProgram(...cmd(['light', '--data-dir', data, '--http-addr', '127.0.0.1:0', '--node-name', 'sea']), env, data, home);
    t.teardown(() => stop(light));
    const runJob = async (job: Record<string, unknown>): Promise<ExecutionJson> => {
      const created = await call(light.url, 'POST', '/v1/jobs?runoncreate', { schedule: '@manually', ...job });
      if (created.status !== 201) throw new Error(`job ${String(job['name'])}: ${created.status} ${created.text}`);
      return until(`job ${String(job['name'])} to finish`, async () => {
        const [e] = await executions(light.url, String(job['name']));
        return e?.finished_at ? e : undefined;
      });
    };

    t.test('the API answers, with the version', async (t) => {
      t.same((await call(light.url, 'GET', '/health')).body, { status: 'healthy' });
      t.match((await call(light.url, 'GET', '/v1/')).text, version);
    });

    t.test('a shell job runs', async (t) => {
      const e = await runJob({ name: 'hello', executor: 'shell', executor_config: { command: 'echo hello from one file', shell: 'true' } });
      t.equal(e.success, true, e.error);
      t.equal(e.output, 'hello from one file\n');
    });

    t.test('an http job runs', async (t) => {
      const server = createServer((req, res) => res.end(`got ${req.method ?? ''} ${req.url ?? ''}`));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      t.teardown(() => new Promise<void>((r) => server.close(() => r())));
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const e = await runJob({ name: 'ping', executor: 'http', executor_config: { method: 'GET', url: `http://127.0.0.1:${port}/ping`, expectCode: '200' } });
      t.equal(e.success, true, e.error);
      t.match(e.output, 'got GET /ping');
    });

    t.test('every bundled executor is the executable itself', async (t) => {
      const listing = (await call(light.url, 'GET', '/v1/plugins')).body as { executors: { name: string; builtin: boolean; path?: string }[] };
      for (const name of bundledExecutorNames) t.match(listing.executors.find((e) => e.name === name), { builtin: true, path: exe }, `${name} is bundled`);
    });

    t.test('grpc (server reflection), pubsub and gcppubsub jobs run against real servers', async (t) => {
      const echo = await startEchoServer({ reflection: true });
      const pubsub = await startPubSubServer();
      t.teardown(async () => {
        await echo.close();
        await pubsub.close();
      });
      pubsub.createTopic('projects/p/topics/jobs');
      const [grpc, ps, gps] = await Promise.all([
        runJob({ name: 'say', executor: 'grpc', executor_config: { url: `${echo.address}/test.Echo/Say`, body: '{"text": "hi"}' } }),
        runJob({ name: 'ps', executor: 'pubsub', executor_config: { project: 'p', topic: 'jobs', data: 'aGk=', endpoint: pubsub.address } }),
        runJob({ name: 'gps', executor: 'gcppubsub', executor_config: { project: 'p', topic: 'jobs', data: 'aGk=', endpoint: pubsub.address } }),
      ]);
      t.equal(grpc.success, true, grpc.error);
      t.match(grpc.output, '"text"');
      t.equal(ps.success, true, ps.error);
      t.equal(gps.success, true, gps.error);
      t.equal(pubsub.messages('projects/p/topics/jobs').length, 2, 'both messages arrived');
    });

    t.test('kafka and rabbitmq plugins start and run their client library', async (t) => {
      // Nothing listens on port 1: the plugin starts, handshakes, and its library says it cannot connect.
      const [kafka, rabbitmq] = await Promise.all([
        runJob({ name: 'closed-kafka', executor: 'kafka', executor_config: { brokerAddress: '127.0.0.1:1', topic: 't', timeout: '10s' } }),
        runJob({ name: 'closed-rabbitmq', executor: 'rabbitmq', executor_config: { url: 'amqp://127.0.0.1:1', 'queue.name': 'q', timeout: '10s' } }),
      ]);
      t.match(kafka, { success: false, error: /cannot reach the Kafka brokers 127\.0\.0\.1:1/ });
      t.match(rabbitmq, { success: false, error: /cannot reach RabbitMQ at amqp:\/\/127\.0\.0\.1:1/ });
    });

    t.test('a nats job publishes through the bundled plugin to a real nats-server', { skip: existsSync(natsServerProgram) ? false : `no nats-server at ${natsServerProgram}` }, async (t) => {
      const nats = await startNatsServer();
      t.teardown(() => nats.stop());
      const nc = await connect({ servers: nats.url });
      t.teardown(() => nc.close());
      const sub = nc.subscribe('jobs.sea', { max: 1 });
      await nc.flush();
      const e = await runJob({ name: 'to-nats', executor: 'nats', executor_config: { url: nats.url, subject: 'jobs.sea', message: 'hi from one file' } });
      t.equal(e.success, true, e.error);
      for await (const m of sub) t.equal(new TextDecoder().decode(m.data), 'hi from one file', 'the message arrived');
    });
  });

  t.test('a --plugin-dir program wins over the bundled executor of its name', async (t) => {
    const dir = join(tmp.path, 'plugins');
    mkdirSync(dir);
    // A stand-in "nats": the executable serving its kafka executor.
    const program = join(dir, 'clocktower-executor-nats');
    writeFileSync(program, `#!/bin/sh\nexec ${exe} plugin executor kafka\n`);
    chmodSync(program, 0o755);
    const data = join(tmp.path, 'dir-data');
    const light = await startServerProgram(...cmd(['light', '--data-dir', data, '--http-addr', '127.0.0.1:0', '--plugin-dir', dir]), env, data, home);
    t.teardown(() => stop(light));
    const listing = (await call(light.url, 'GET', '/v1/plugins')).body as { executors: { name: string; builtin: boolean; path?: string }[] };
    t.match(listing.executors.find((e) => e.name === 'nats'), { builtin: false, path: program });
    await call(light.url, 'POST', '/v1/jobs?runoncreate', { name: 'which', schedule: '@manually', executor: 'nats', executor_config: { brokerAddress: '127.0.0.1:1', topic: 't', timeout: '10s' } });
    const e = await until('the job to finish', async () => {
      const [x] = await executions(light.url, 'which');
      return x?.finished_at ? x : undefined;
    });
    t.match(e.error, /Kafka/, 'the program from the plugin directory ran it');
  });

  t.test('a one-server cluster and an agent run jobs', async (t) => {
    const data = join(tmp.path, 'server-data');
    const [rpc, http] = [await freePort(), await freePort()];
    const server = await startServerProgram(...cmd(['agent', '--server', '--bootstrap-expect', '1', '--node-name', 's1', '--data-dir', data,
      '--rpc-addr', `127.0.0.1:${rpc}`, '--http-addr', `127.0.0.1:${http}`]), env, data, home);
    t.teardown(() => stop(server));
    const runJob = async (job: Record<string, unknown>): Promise<ExecutionJson> => {
      await until(`the cluster to take ${String(job['name'])}`, async () => {
        const r = await call(server.url, 'POST', '/v1/jobs?runoncreate', { schedule: '@manually', ...job });
        return r.status === 201 ? r : undefined;
      });
      return until(`${String(job['name'])} to finish`, async () => {
        const [x] = await executions(server.url, String(job['name']));
        return x?.finished_at ? x : undefined;
      });
    };
    const onServer = await runJob({ name: 'clustered', executor: 'shell', executor_config: { command: 'echo clustered', shell: 'true' } });
    t.match(onServer, { success: true, output: 'clustered\n', node_name: 's1' });

    const agent = spawn(...cmd(['agent', '--join', `127.0.0.1:${rpc}`, '--node-name', 'a1', '--tag', 'role=far']), { stdio: ['ignore', 'ignore', 'pipe'], env, cwd: home });
    let agentLog = '';
    agent.stderr.on('data', (c: Buffer) => (agentLog += c.toString()));
    const agentExited = new Promise<void>((r) => agent.once('exit', () => r()));
    t.teardown(async () => {
      agent.kill('SIGTERM');
      await agentExited;
    });
    await until('the agent to register', async () => {
      const a = await call(server.url, 'GET', '/v1/agents');
      return a.status === 200 && (a.body as { name: string }[]).some((x) => x.name === 'a1') ? true : undefined;
    }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\nagent log:\n${agentLog}`);
    });
    const onAgent = await runJob({ name: 'far', executor: 'shell', tags: { role: 'far' }, executor_config: { command: 'echo far away', shell: 'true' } });
    t.match(onAgent, { success: true, output: 'far away\n', node_name: 'a1' });
  });

  t.test('a 3-server cluster elects a leader and survives a kill -9 of it', async (t) => {
    const [command, prefix] = cmd([]);
    const launcher = { command, prefix, env, cwd: home };
    const specs = await serverSpecs(join(tmp.path, 'cluster'), ['c1', 'c2', 'c3']);
    const servers = await Promise.all(specs.map((s) => startServerProcess(s, [], launcher)));
    t.teardown(() => Promise.all(servers.map((s) => s.stop())));
    const leader = await agreedLeader(servers);
    const put = await call(leader.url, 'POST', '/v1/jobs', { name: 'survivor', schedule: '@manually', executor: 'shell', executor_config: { command: 'echo survived', shell: 'true' } });
    t.equal(put.status, 201, put.text);
    await leader.kill9();
    const rest = servers.filter((s) => s !== leader);
    const next = await agreedLeader(rest);
    t.not(next.name, leader.name, `${next.name} leads after ${leader.name} was killed`);
    t.equal((await call(next.url, 'POST', '/v1/jobs/survivor/run')).status, 202);
    const e = await until('the run on the new leader to finish', async () => {
      const [x] = await executions(next.url, 'survivor');
      return x?.finished_at ? x : undefined;
    });
    t.match(e, { success: true, output: 'survived\n' });
  });

  t.test('the file', async (t) => {
    t.ok(statSync(exe).size > 1_000_000, `${statSync(exe).size} bytes`);
  });
}

interface Masking {
  readonly unshare: string;
  /** unshare's arguments up to the program to run. */
  readonly prefix: string[];
  readonly nodes: string[];
}

/** How to run a program with every node binary masked, or null when this machine cannot (not root, no unshare). */
function maskNode(exe: string, env: Record<string, string>): Masking | null {
  const which = (name: string) => ['/usr/bin', '/bin', '/usr/sbin', '/sbin'].map((d) => join(d, name)).find((p) => existsSync(p));
  const [unshare, mount, sh] = [which('unshare'), which('mount'), which('sh')];
  if (process.getuid?.() !== 0 || !unshare || !mount || !sh) return null;
  const onPath = spawnSync(sh, ['-c', 'which -a node'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  const nodes = [...new Set([process.execPath, ...onPath].map((p) => realpathSync(p)))];
  // sh -c 'mount --bind /dev/null NODE ... && exec PROGRAM ARGS...'
  const script = `${nodes.map((n) => `${mount} --bind /dev/null '${n}'`).join(' && ')} && exec "$@"`;
  const prefix = ['-m', sh, '-c', script, 'sh'];
  const probe = spawnSync(unshare, [...prefix, exe, 'version'], { encoding: 'utf8', env });
  return probe.status === 0 ? { unshare, prefix, nodes } : null;
}
