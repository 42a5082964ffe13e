// What ships: the npm tarball holds the program and nothing of the tests or
// benchmarks, and `npm install -g` of it gives a working `clocktower`
// (version, a light-mode shell job, a bundled executor); packaging/ holds a systemd unit, example configurations that
// the real config parser accepts (comments included) and a bash completion
// that bash loads and that completes commands.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseAgentConfig, type AgentConfig } from '../../bin/agent-config.js';
import { ConfigError, parseLightConfig, type LightConfig } from '../../bin/light-config.js';
import { call, executions, startServerProgram, tempDir, until } from '../support/light-process.js';

t.test('npm pack: the program, without tests, benchmarks or sources', async (t) => {
  // --ignore-scripts: the tarball is listed from the dist/ that npm test built, without rebuilding it.
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const [pack] = JSON.parse(r.stdout) as { files: { path: string }[] }[];
  const files = (pack?.files ?? []).map((f) => f.path);
  for (const f of ['package.json', 'README.md', 'dist/bin/main.js', 'dist/plugins/executors/nats/main.js', 'dist/proto/load-proto.js',
    'proto/plugin.proto', 'plugins/bundled/clocktower-executor-nats', 'packaging/clocktower.service', 'packaging/server.json',
    'packaging/agent.json', 'packaging/clocktower.bash']) t.ok(files.includes(f), `has ${f}`);
  const unwanted = files.filter((f) => /^(dist\/)?(test|bench|scripts|build|examples)\//.test(f) || /\.test\.js$|\.map$|tsbuildinfo|\.ts$/.test(f));
  t.same(unwanted, [], 'no tests, benchmarks, sources, maps or build output');
});

t.test('npm install -g of the tarball gives a working clocktower command', async (t) => {
  const tmp = tempDir('ct-npm-install-');
  t.teardown(() => tmp.remove());
  const packed = spawnSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp.path], { encoding: 'utf8' });
  t.equal(packed.status, 0, packed.stderr);
  const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
  const prefix = join(tmp.path, 'prefix');
  // The dependencies come from npm's cache where it has them (npm ci filled it), else from the registry.
  const installed = spawnSync('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(tmp.path, filename)], { encoding: 'utf8', cwd: tmp.path });
  if (installed.status !== 0 && /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|ENOTCACHED/.test(installed.stderr)) {
    t.skip(`npm install -g could not fetch the dependencies (no registry here): ${installed.stderr.split('\n').find((l) => /error/.test(l)) ?? ''}`, () => {});
    return;
  }
  t.equal(installed.status, 0, installed.stderr);
  const exe = join(prefix, 'bin', 'clocktower');
  const version = (JSON.parse(readFileSync(resolve('package.json'), 'utf8')) as { version: string }).version;
  t.equal(spawnSync(exe, ['version'], { encoding: 'utf8' }).stdout.trim(), `clocktower ${version}`);
  const data = join(tmp.path, 'data');
  const light = await startServerProgram(exe, ['light', '--data-dir', data, '--http-addr', '127.0.0.1:0'], process.env, data, tmp.path);
  t.teardown(() => light.stop());
  const jobs = [
    { name: 'installed', executor: 'shell', executor_config: { command: 'echo installed', shell: 'true' } },
    { name: 'bundled', executor: 'nats', executor_config: { url: 'nats://127.0.0.1:1', subject: 's', message: 'm', timeout: '10s' } },
  ];
  for (const job of jobs) t.equal((await call(light.url, 'POST', '/v1/jobs?runoncreate', { schedule: '@manually', ...job })).status, 201);
  const [shell, nats] = await Promise.all(jobs.map((j) => until(`${j.name} to finish`, async () => {
    const [e] = await executions(light.url, j.name);
    return e?.finished_at ? e : undefined;
  })));
  t.match(shell, { success: true, output: 'installed\n' });
  t.match(nats, { success: false, error: /cannot reach NATS/ }, 'the bundled nats plugin program ran from the install');
});

t.test('the example configurations parse, comments and all', async (t) => {
  const server = parseAgentConfig(['--config', resolve('packaging/server.json')], {}, '0') as AgentConfig;
  t.match(server, { server: true, bootstrapExpect: 3, join: ['10.0.0.2:6868', '10.0.0.3:6868'], rpcAddr: '10.0.0.1:6868', dataDir: '/var/lib/clocktower', tags: { role: 'server' } });
  const agent = parseAgentConfig(['--config', resolve('packaging/agent.json')], {}, '0') as AgentConfig;
  t.match(agent, { server: false, join: ['10.0.0.1:6868', '10.0.0.2:6868', '10.0.0.3:6868'], tags: { role: 'web', zone: 'a' }, capacity: 100 });
});

t.test('config files: // comment lines are blanks, // inside a value is kept, errors keep their positions', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ct-config-comments-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'c.json');
  writeFileSync(file, '// a comment\n{\n  // the node\n  "node-name": "n//1", "api-token": "t//k"\n   // last\n}\n');
  t.match(parseLightConfig(['--config', file], {}, '0') as LightConfig, { nodeName: 'n//1', apiToken: 't//k' });
  const broken = '// one\n{"node-name": }\n';
  writeFileSync(file, broken);
  let plain = '';
  try {
    JSON.parse(broken.replace('// one', '      '));
  } catch (err) {
    plain = (err as Error).message;
  }
  t.throws(() => parseLightConfig(['--config', file], {}, '0'), new ConfigError(`cannot read config file ${file}: ${plain}`), 'the same message as for the file without its comment');
  writeFileSync(file, '{"node-name": "n", /* not a comment */ "x": 1}');
  t.throws(() => parseLightConfig(['--config', file], {}, '0'), ConfigError, 'only whole-line // comments');
});

t.test('the systemd unit: restarts, a user of its own, data in /var/lib/clocktower', async (t) => {
  const unit = readFileSync(resolve('packaging/clocktower.service'), 'utf8');
  t.match(unit, /^Restart=on-failure$/m);
  t.match(unit, /^DynamicUser=yes$/m);
  t.match(unit, /^User=clocktower$/m);
  t.match(unit, /^StateDirectory=clocktower$/m);
  t.match(unit, /^Environment=CLOCKTOWER_DATA_DIR=\/var\/lib\/clocktower$/m);
  t.match(unit, /^ExecStart=\/usr\/local\/bin\/clocktower agent --config \/etc\/clocktower\/clocktower\.json$/m);
});

t.test('bash completion', async (t) => {
  const complete = (words: string[]) => spawnSync('bash', ['-c', `source packaging/clocktower.bash; COMP_WORDS=(${words.join(' ')}); COMP_CWORD=${words.length - 1}; _clocktower; echo "\${COMPREPLY[*]}"`], { encoding: 'utf8' });
  const r = spawnSync('bash', ['-n', 'packaging/clocktower.bash'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.equal(complete(['clocktower', 'jo']).stdout.trim(), 'jobs');
  t.equal(complete(['clocktower', 'jobs', 'exe']).stdout.trim(), 'executions');
  t.equal(complete(['clocktower', 'agent', '--boot']).stdout.trim(), '--bootstrap-expect');
  t.equal(complete(['clocktower', 'raft', 'l']).stdout.trim(), 'list-peers');
  t.equal(complete(['clocktower', 'acl', 'token', 'cr']).stdout.trim(), 'create');
  t.equal(complete(['clocktower', 'acl', 'token', 'create', '--po']).stdout.trim(), '--policy');
});
