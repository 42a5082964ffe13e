import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAgentConfig } from '../../bin/agent-config.js';
import { ConfigError } from '../../bin/light-config.js';

const parse = (argv: string[], env: Record<string, string> = {}) => parseAgentConfig(argv, env, '0.0.0');

t.test('an agent without --server needs --join; tags are repeatable KEY=VALUE', async (t) => {
  const c = parse(['--join', '127.0.0.1:6868', '--tag', 'role=web', '--tag', 'zone=a=b', '--node-name', 'a1', '--capacity', '5', '--shutdown-grace', '0']);
  if (c === 'help') throw new Error('help');
  t.equal(c.server, false);
  t.same(c.join, ['127.0.0.1:6868']);
  t.same(c.tags, { role: 'web', zone: 'a=b' }, 'only the first = splits');
  t.equal(c.capacity, 5);
  t.equal(c.shutdownGraceMs, 0);
  t.equal(c.agentTimeoutMs, 15_000, 'default heartbeat deadline');
  t.throws(() => parse(['--tag', 'role=web']), new ConfigError("an agent without --server needs --join HOST:PORT (a server's --rpc-addr)"));
  t.throws(() => parse(['--join', '127.0.0.1:1', '--tag', 'role']), /--tag must be KEY=VALUE, not "role"/);
  t.throws(() => parse(['--join', '127.0.0.1:1', '--tag', '=web']), /--tag must be KEY=VALUE/);
  t.throws(() => parse(['--join', 'nohost']), /--join must be HOST:PORT/);
  t.throws(() => parse(['--join', '127.0.0.1:1', '--capacity', '0']), /--capacity must be a whole number above 0/);
});

t.test('a server takes tags and the agent heartbeat deadline too; tags also come from the environment', async (t) => {
  const c = parse(['--server', '--bootstrap-expect', '1', '--agent-timeout', '2s'], { CLOCKTOWER_TAG: 'role=server,dc=x' });
  if (c === 'help') throw new Error('help');
  t.equal(c.server, true);
  t.equal(c.agentTimeoutMs, 2000);
  t.same(c.tags, { role: 'server', dc: 'x' });
  t.throws(() => parse(['--server', '--bootstrap-expect', '1', '--agent-timeout', 'soon']), /--agent-timeout must be a duration such as 10s/);
  t.throws(() => parse(['--server', '--bootstrap-expect', '1', '--agent-timeout', '0']), /--agent-timeout must be a duration above 0/);
});

t.test('--store etcd: endpoints (comma lists and repeats), prefix, lease TTL, TLS and auth; clear errors', async (t) => {
  const c = parse(['--server', '--store', 'etcd', '--etcd-endpoints', 'http://10.0.0.5:2379,http://10.0.0.6:2379', '--etcd-endpoints', '10.0.0.7:2379',
    '--etcd-prefix', '/ct/prod/', '--etcd-lease-ttl', '2500ms', '--etcd-username', 'ct'], { CLOCKTOWER_ETCD_PASSWORD: 'pw' });
  if (c === 'help') throw new Error('help');
  t.equal(c.store, 'etcd');
  t.same(c.etcd, { endpoints: ['http://10.0.0.5:2379', 'http://10.0.0.6:2379', '10.0.0.7:2379'], prefix: '/ct/prod', leaseTtlSec: 3, username: 'ct', password: 'pw' });
  t.same(c.join, [], 'no --join or --bootstrap-expect needed on etcd');
  const d = parse(['--server', '--store', 'etcd', '--etcd-endpoints', 'http://127.0.0.1:2379']);
  if (d === 'help') throw new Error('help');
  t.same(d.etcd, { endpoints: ['http://127.0.0.1:2379'], prefix: '/clocktower', leaseTtlSec: 3 }, 'defaults');
  const raft = parse(['--server', '--bootstrap-expect', '1']);
  if (raft === 'help') throw new Error('help');
  t.equal(raft.store, 'raft', 'the built-in Raft is the default');
  t.equal(raft.etcd, null);
  t.throws(() => parse(['--server', '--store', 'zookeeper']), /--store must be raft or etcd, not "zookeeper"/);
  t.throws(() => parse(['--server', '--store', 'etcd']), /--store etcd needs --etcd-endpoints/);
  t.throws(() => parse(['--server', '--store', 'etcd', '--etcd-endpoints', 'http://h/path']), /--etcd-endpoints: "http:\/\/h\/path" is not a URL/);
  t.throws(() => parse(['--server', '--store', 'etcd', '--etcd-endpoints', 'h:1', '--etcd-prefix', '/']), /--etcd-prefix must not be empty/);
  t.throws(() => parse(['--server', '--store', 'etcd', '--etcd-endpoints', 'h:1', '--etcd-lease-ttl', '500ms']), /--etcd-lease-ttl must be at least 1s/);
  t.throws(() => parse(['--server', '--store', 'etcd', '--etcd-endpoints', 'h:1', '--etcd-cert', 'c.pem']), /--etcd-cert and --etcd-key go together/);
  t.throws(() => parse(['--server', '--store', 'etcd', '--etcd-endpoints', 'h:1', '--etcd-cert', 'c.pem', '--etcd-key', 'k.pem']), /--etcd-cert needs --etcd-ca/);
  t.throws(() => parse(['--server', '--store', 'etcd', '--etcd-endpoints', 'h:1', '--etcd-password', 'x']), /--etcd-password needs --etcd-username/);
  t.throws(() => parse(['--server', '--bootstrap-expect', '1', '--etcd-endpoints', 'h:1']), /--etcd-endpoints needs --store etcd/);
});

t.test('--metrics-addr, --log-level and --log-format (also from the environment)', async (t) => {
  const c = parse(['--join', '127.0.0.1:6868', '--metrics-addr', '0.0.0.0:9422', '--log-level', 'WARN'], { CLOCKTOWER_LOG_FORMAT: 'json' });
  if (c === 'help') throw new Error('help');
  t.equal(c.metricsAddr, '0.0.0.0:9422');
  t.equal(c.logLevel, 'warn');
  t.equal(c.logFormat, 'json');
  const d = parse(['--join', '127.0.0.1:6868']);
  if (d === 'help') throw new Error('help');
  t.equal(d.metricsAddr, null, 'no metrics listener unless asked');
  t.equal(d.logLevel, 'info');
  t.equal(d.logFormat, 'text');
  t.throws(() => parse(['--join', '127.0.0.1:1', '--metrics-addr', '9422']), /--metrics-addr must be HOST:PORT, not "9422"/);
  t.throws(() => parse(['--join', '127.0.0.1:1', '--log-level', 'trace']), new ConfigError('--log-level must be one of debug, info, warn, error, not "trace"'));
  t.throws(() => parse(['--join', '127.0.0.1:1', '--log-format', 'pretty']), /--log-format must be one of json, text/);
});

t.test('Dkron flag names: --bind-addr and --advertise-addr mapped to ours, --encrypt refused with the way to go, typos named', async (t) => {
  const c = parse(['--server', '--bootstrap-expect', '1', '--bind-addr', '127.0.0.1:7000', '--advertise-addr=10.0.0.1:7000', '--insecure']);
  if (c === 'help') throw new Error('help');
  t.equal(c.rpcAddr, '127.0.0.1:7000');
  t.equal(c.advertiseRpcAddr, '10.0.0.1:7000');
  t.throws(() => parse(['--server', '--bootstrap-expect', '1', '--encrypt', 'key']), /--encrypt is Dkron's gossip encryption key, and Clocktower has no gossip layer.*TLS/);
  t.throws(() => parse(['--server', '--bootstrap-expect', '1', '--boostrap-expect', '3']), /unknown flag --boostrap-expect \(did you mean --bootstrap-expect\?\)/);
  t.throws(() => parse(['--server', '--zzzzzzzzzz']), /^unknown flag --zzzzzzzzzz; see --help/);
});

t.test('a dkron.yml-style YAML config file, and JSON still', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ct-yml-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const yml = join(dir, 'dkron.yml');
  writeFileSync(yml, [
    '# Dkron keys',
    'server: true',
    'bootstrap-expect: 3',
    'data-dir: /var/lib/ct',
    'log-level: debug',
    'bind-addr: 127.0.0.1:6900',
    'http-addr: 127.0.0.1:8090',
    'retry-join:',
    '  - 127.0.0.1:6901',
    '  - 127.0.0.1:6902',
    'tags:',
    '  role: web',
    '  dc: east',
    '',
  ].join('\n'));
  const c = parse(['--config', yml]);
  if (c === 'help') throw new Error('help');
  t.equal(c.server, true);
  t.equal(c.bootstrapExpect, 3);
  t.equal(c.dataDir, '/var/lib/ct');
  t.equal(c.logLevel, 'debug');
  t.equal(c.rpcAddr, '127.0.0.1:6900');
  t.same(c.join, ['127.0.0.1:6901', '127.0.0.1:6902']);
  t.same(c.tags, { role: 'web', dc: 'east' });
  const flagWins = parse(['--config', yml, '--log-level', 'warn']);
  t.equal(flagWins !== 'help' && flagWins.logLevel, 'warn', 'a flag overrides the file');
  const typo = join(dir, 'typo.yaml');
  writeFileSync(typo, 'server: true\nbootstrap-expect: 1\nnode-nmae: x\n');
  t.throws(() => parse(['--config', typo]), /typo.yaml: unknown key "node-nmae" \(did you mean node-name\?\)/);
  const enc = join(dir, 'enc.yml');
  writeFileSync(enc, 'server: true\nencrypt: abc\n');
  t.throws(() => parse(['--config', enc]), /--encrypt is Dkron's gossip encryption key/);
  const broken = join(dir, 'broken.yml');
  writeFileSync(broken, 'server: [true\n');
  t.throws(() => parse(['--config', broken]), /cannot read config file .*broken.yml/);
  const json = join(dir, 'c.json');
  writeFileSync(json, JSON.stringify({ server: true, 'bootstrap-expect': 1, tags: { role: 'db' } }));
  const j = parse(['--config', json]);
  t.same(j !== 'help' && j.tags, { role: 'db' }, 'JSON takes the same keys');
});

t.test('--output-limit is at most 2 MiB: a finished execution goes into one log entry', async (t) => {
  const c = parse(['--server', '--bootstrap-expect', '1', '--output-limit', '1000000']);
  if (c === 'help') throw new Error('help');
  t.equal(c.outputLimit, 1_000_000);
  t.throws(() => parse(['--server', '--bootstrap-expect', '1', '--output-limit', '2097153']), /--output-limit may be at most 2097152, not 2097153/);
});

t.test('booleans from the environment and config files: Go spellings, anything else an error naming the key', async (t) => {
  const join1 = ['--join', '127.0.0.1:6868'];
  for (const yes of ['true', '1', 'T', 'TRUE', 'True']) {
    const c = parse(join1, { CLOCKTOWER_SERVER: yes, CLOCKTOWER_BOOTSTRAP_EXPECT: '1' });
    if (c === 'help') throw new Error('help');
    t.equal(c.server, true, `CLOCKTOWER_SERVER=${yes}`);
  }
  const off = parse(join1, { CLOCKTOWER_SERVER: 'false' });
  if (off === 'help') throw new Error('help');
  t.equal(off.server, false);
  t.throws(() => parse(join1, { CLOCKTOWER_SERVER: 'yes' }), /CLOCKTOWER_SERVER must be true or false, not "yes"/, 'not a silent false');

  const dir = mkdtempSync(join(tmpdir(), 'ct-bool-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'agent.json');
  writeFileSync(file, JSON.stringify({ join: ['127.0.0.1:6868'], server: 'enabled' }));
  t.throws(() => parse(['--config', file]), /agent\.json: "server" must be true or false, not "enabled"/);
  writeFileSync(file, JSON.stringify({ join: ['127.0.0.1:6868'], server: '' }));
  t.throws(() => parse(['--config', file]), /"server" must be true or false/);
  writeFileSync(file, JSON.stringify({ join: ['127.0.0.1:6868'], server: 'true', 'bootstrap-expect': 1 }));
  const c = parse(['--config', file]);
  if (c === 'help') throw new Error('help');
  t.equal(c.server, true, 'a string "true" in a file is true');
});

t.test('--pull: --join takes API URLs; --max-concurrent and the backoff flags, with clear errors', async (t) => {
  const c = parse(['--pull', '--join', 'http://127.0.0.1:8080/', '--join', 'https://10.0.0.5:8443', '--max-concurrent', '7', '--pull-backoff-max', '2s', '--tls-ca', 'ca', '--tls-cert', 'c', '--tls-key', 'k']);
  if (c === 'help') throw new Error('help');
  t.same(c.join, ['http://127.0.0.1:8080', 'https://10.0.0.5:8443'], 'a trailing slash dropped');
  t.equal(c.capacity, 7);
  t.same(c.pull, { backoffMinMs: 1, backoffMaxMs: 2000, backoffStepMs: 10, waitMs: 10_000 }, 'defaults: 1 ms to the max in 10 ms steps');
  const d = parse(['--pull', '--join', 'http://127.0.0.1:8080', '--capacity', '3', '--pull-wait', '0', '--pull-backoff-min', '0']);
  if (d === 'help') throw new Error('help');
  t.equal(d.capacity, 3, '--capacity means the same');
  t.match(d.pull, { waitMs: 0, backoffMinMs: 0 });
  t.equal((parse(['--join', '127.0.0.1:6868']) as { pull: unknown }).pull, null, 'a gRPC agent');
  t.throws(() => parse(['--pull', '--join', '127.0.0.1:8080']), /--join with --pull takes a server's API URL such as http:\/\/10.0.0.5:8080, not "127.0.0.1:8080"/);
  t.throws(() => parse(['--pull']), /a pull agent needs --join URL/);
  t.throws(() => parse(['--join', '127.0.0.1:1', '--max-concurrent', '2']), /--max-concurrent needs --pull/);
  t.throws(() => parse(['--pull', '--server', '--bootstrap-expect', '1']), /--pull is for an agent without --server/);
  t.throws(() => parse(['--pull', '--join', 'http://127.0.0.1:1', '--pull-backoff-min', '2s', '--pull-backoff-max', '1s']), /--pull-backoff-min must not be above --pull-backoff-max/);
  t.throws(() => parse(['--pull', '--join', 'http://127.0.0.1:1', '--max-concurrent', '0']), /--max-concurrent must be a whole number above 0/);
  t.throws(() => parse(['--pull', '--join', 'http://10.0.0.5:8080']), /not a loopback address, and there is no TLS/, 'a plain-HTTP server elsewhere needs --insecure');
});
