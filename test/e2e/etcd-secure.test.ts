// `--store etcd` on a real etcd that requires TLS with client certificates
// (--etcd-ca/--etcd-cert/--etcd-key), and on one with authentication enabled
// (--etcd-username, the password from CLOCKTOWER_ETCD_PASSWORD or
// --etcd-password): a server leads, takes writes and fires a job; the wrong
// CA, no client certificate, or a wrong password stop it with a clear error;
// the password is never in its output.
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { call, executions, mainJs, tempDir, until } from '../support/light-process.js';
import { agreedLeader, nodeLauncher, serverSpecs, startServerProcess, type ServerProcess, type ServerSpec } from '../support/cluster-processes.js';
import { makeEtcdCerts, startEtcd } from '../support/etcd-server.js';

const run = promisify(execFile);
const root = tempDir('ct-etcd-secure-');
const certs = makeEtcdCerts(root.path);
const tlsEtcd = await startEtcd(20_000, certs);
const authEtcd = await startEtcd();
const started: ServerProcess[] = [];
t.teardown(async () => {
  for (const s of started) await s.kill9().catch(() => {});
  await tlsEtcd.stop();
  await authEtcd.stop();
  root.remove();
});

async function spec(name: string, args: string[]): Promise<ServerSpec> {
  const [s] = await serverSpecs(join(root.path, name), [name]);
  if (!s) throw new Error('no spec');
  return { ...s, args: ['--store', 'etcd', '--etcd-lease-ttl', '2s', ...args] };
}

/** The server leads, takes a write, and runs an @every 1s job. */
async function works(t: Test, s: ServerProcess): Promise<void> {
  await agreedLeader([s]);
  const made = await call(s.url, 'POST', '/v1/jobs', { name: `beat-${s.name}`, schedule: '@every 1s', executor: 'shell', executor_config: { command: 'true' } });
  t.equal(made.status, 201, 'a write commits');
  await until('the job to run', async () => (await executions(s.url, `beat-${s.name}`)).some((e) => e.finished_at !== null && e.success) || undefined);
  t.pass('the job ran');
}

/** Starting fails: the exit code and what it printed. */
async function refused(s: ServerSpec, env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  const r = await run(process.execPath, [mainJs, 'agent', '--server', '--node-name', s.name, '--data-dir', s.dataDir, '--rpc-addr', s.rpcAddr,
    '--http-addr', s.httpAddr, ...s.args], { env: { ...process.env, ...env }, timeout: 60_000 })
    .then((ok) => ({ code: 0, out: `${ok.stdout}${ok.stderr}` }), (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, out: `${err.stdout}${err.stderr}` }));
  return r;
}

t.test('TLS with client certificates: --etcd-ca/--etcd-cert/--etcd-key', async (t) => {
  const tlsArgs = ['--etcd-endpoints', tlsEtcd.url, '--etcd-prefix', '/ct-tls', '--etcd-ca', certs.ca, '--etcd-cert', certs.clientCert, '--etcd-key', certs.clientKey];
  const s = await startServerProcess(await spec('tls1', tlsArgs));
  started.push(s);
  await works(t, s);
  const noCert = await refused(await spec('tls2', ['--etcd-endpoints', tlsEtcd.url, '--etcd-prefix', '/ct-tls2', '--etcd-ca', certs.ca]));
  t.not(noCert.code, 0, 'without a client certificate the server does not start');
  t.match(noCert.out, /cannot use etcd at https:\/\/127\.0\.0\.1:\d+/, 'and says it cannot use etcd');
  const wrongCa = await refused(await spec('tls3', ['--etcd-endpoints', tlsEtcd.url, '--etcd-prefix', '/ct-tls3', '--etcd-ca', certs.otherCa, '--etcd-cert', certs.clientCert, '--etcd-key', certs.clientKey]));
  t.not(wrongCa.code, 0, 'with a CA that did not sign etcd\'s certificate the server does not start');
  t.match(wrongCa.out, /cannot use etcd at https:/);
  const missing = await refused(await spec('tls4', ['--etcd-endpoints', tlsEtcd.url, '--etcd-ca', join(root.path, 'nope.pem')]));
  t.not(missing.code, 0);
  t.match(missing.out, /etcd-ca/, 'a missing CA file names the flag');
});

t.test('authentication: --etcd-username with the password from the environment or the flag, never printed', async (t) => {
  const password = 'pw-9f3Kq-secret';
  const admin = new Etcd3({ hosts: authEtcd.url });
  await admin.user('root').create('root-secret-pw');
  await admin.user('root').addRole('root');
  const role = await admin.role('clocktower').create();
  await role.grant({ permission: 'Readwrite', range: admin.range({ prefix: '/ct-auth/' }) });
  await role.grant({ permission: 'Readwrite', key: '/ct-auth' });
  await admin.user('ct').create(password);
  await admin.user('ct').addRole('clocktower');
  await admin.auth.authEnable({});
  admin.close();

  const anonymous = await refused(await spec('anon', ['--etcd-endpoints', authEtcd.url, '--etcd-prefix', '/ct-auth']));
  t.not(anonymous.code, 0, 'without credentials the server does not start');
  t.match(anonymous.out, /cannot use etcd/);

  const base = ['--etcd-endpoints', authEtcd.url, '--etcd-prefix', '/ct-auth', '--etcd-username', 'ct', '--snapshot-every', '5'];
  const fromEnv = await startServerProcess(await spec('a1', base), [], { ...nodeLauncher, env: { ...process.env, CLOCKTOWER_ETCD_PASSWORD: password } });
  started.push(fromEnv);
  await works(t, fromEnv);
  const fromFlag = await startServerProcess(await spec('a2', [...base, '--etcd-password', password]));
  started.push(fromFlag);
  t.equal((await agreedLeader([fromEnv, fromFlag])).name, fromEnv.name, 'a second server with --etcd-password follows the first');
  t.equal((await call(fromFlag.url, 'GET', `/v1/jobs/beat-${fromEnv.name}`)).status, 200, 'and reads its jobs');

  const wrong = await refused(await spec('a3', [...base, '--etcd-password', 'not-the-password-42']));
  t.not(wrong.code, 0, 'a wrong password stops the server');
  t.match(wrong.out, /cannot use etcd/);
  t.notMatch(wrong.out, /not-the-password-42/, 'the wrong password is not printed');
  await until('a snapshot and a compaction as that user', async () => /history compacted at revision/.test(fromEnv.log()) || undefined);
  t.notMatch(fromEnv.log(), /compacting etcd's history failed/, 'the user may compact');
  for (const s of [fromEnv, fromFlag]) t.notOk(s.log().includes(password), `${s.name}: the password is not in its log`);
  const configShown = (await call(fromFlag.url, 'GET', '/v1/members')).text + (await call(fromFlag.url, 'GET', '/v1/leader')).text;
  t.notOk(configShown.includes(password), 'nor in what the API shows');
});
