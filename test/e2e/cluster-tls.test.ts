// A real 3-server cluster and an agent on mutual TLS, with certificates made
// by `clocktower tls ca create` and `clocktower tls cert create`. The CLI
// talks HTTPS with its own certificate; a job runs on the agent. Then, as an
// attacker would: a gRPC client without a certificate, one with a
// certificate from another CA, an agent certificate speaking Raft, Join or Leave,
// and a server certificate for one node speaking for another are each
// refused, and nothing is appended.
import t from 'tap';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { Agent, request } from 'undici';
import { clusterProto, raftProto } from '../../proto/load-proto.js';
import type { RaftMessage } from '../../proto/generated/clocktower/raft/v1/RaftMessage.js';
import { mainJs, tempDir, until } from '../support/light-process.js';
import { serverSpecs, startServerProcess, type ServerProcess } from '../support/cluster-processes.js';
import { startAgentProcess } from '../support/agent-process.js';
import { tlsCommand } from '../../bin/cli/tls-commands.js';

const run = promisify(execFile);
const root = tempDir('ct-tls-');
const certs = join(root.path, 'certs');
const other = join(root.path, 'other');

async function ct(args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await run(process.execPath, [mainJs, ...args], { env: { ...process.env, ...env } });
  return r.stdout;
}

mkdirSync(certs);
mkdirSync(other);
// The command itself, in-process (the same code `clocktower tls` runs; one process start less per file).
const tls = (args: string[]) => tlsCommand(args, () => {});
tls(['ca', 'create', '--dir', certs]);
tls(['ca', 'create', '--dir', other]);
const caArgs = (dir: string) => ['--ca', join(dir, 'clocktower-ca.pem'), '--key', join(dir, 'clocktower-ca-key.pem'), '--dir', dir];
for (const n of ['t1', 't2', 't3']) tls(['cert', 'create', '--server', '--node', n, ...caArgs(certs)]);
tls(['cert', 'create', '--agent', ...caArgs(certs)]);
tls(['cert', 'create', '--cli', ...caArgs(certs)]);
tls(['cert', 'create', '--server', ...caArgs(other)]);
const files = (dir: string, name: string) => ({ ca: join(dir, 'clocktower-ca.pem'), cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) });
const serverFiles = ['t1', 't2', 't3'].map((_, i) => files(certs, `dc1-server-clocktower-${i}`));
const agentFiles = files(certs, 'dc1-agent-clocktower-0');
const cliFiles = files(certs, 'dc1-cli-clocktower-0');
const foreignFiles = { ...files(other, 'dc1-server-clocktower-0'), ca: join(certs, 'clocktower-ca.pem') };
const tlsArgs = (f: { ca: string; cert: string; key: string }) => ['--tls-ca', f.ca, '--tls-cert', f.cert, '--tls-key', f.key];

const specs = await serverSpecs(root.path, ['t1', 't2', 't3']);
const servers: ServerProcess[] = await Promise.all(specs.map((s, i) => startServerProcess(s, tlsArgs(serverFiles[i] ?? agentFiles))));
const agents: { kill9(): Promise<void> }[] = [];
t.teardown(async () => {
  for (const a of agents) await a.kill9().catch(() => {});
  for (const s of servers) await s.kill9().catch(() => {});
  root.remove();
});
const cliEnv = { CLOCKTOWER_TLS_CA: cliFiles.ca, CLOCKTOWER_TLS_CERT: cliFiles.cert, CLOCKTOWER_TLS_KEY: cliFiles.key };
const https = (s: ServerProcess) => `https://${s.httpAddr}`;

async function metric(s: ServerProcess, name: string): Promise<number> {
  const dispatcher = new Agent({ connect: { ca: readFileSync(cliFiles.ca), cert: readFileSync(cliFiles.cert), key: readFileSync(cliFiles.key), servername: 'server.dc1.clocktower' } });
  const r = await request(`${https(s)}/metrics`, { dispatcher });
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(await r.body.text());
  await dispatcher.close();
  return Number(m?.[1] ?? NaN);
}

t.test('tls cert create: names carry the role, files are 0600', async (t) => {
  for (const f of [serverFiles[0], agentFiles, cliFiles]) {
    if (!f) continue;
    t.equal(statSync(f.key).mode & 0o777, 0o600, `${f.key} is 0600`);
    t.equal(statSync(f.cert).mode & 0o777, 0o600);
  }
  const text = (await run('openssl', ['x509', '-in', serverFiles[0]?.cert ?? '', '-noout', '-text'])).stdout;
  t.match(text, /DNS:server\.dc1\.clocktower, DNS:t1\.server\.dc1\.clocktower/);
  t.match(text, /ASN1 OID: prime256v1/);
  await t.rejects(ct(['tls', 'ca', 'create', '--dir', certs]), /exists already/, 'a CA is never overwritten');
});

t.test('the cluster runs on mutual TLS; the CLI uses HTTPS; a job runs on the agent', async (t) => {
  const leaderName = await until('a leader', async () => {
    const out = await ct(['raft', 'list-peers', '--address', https(servers[0] as ServerProcess)], cliEnv).catch(() => '');
    return /leader/.test(out) ? out : undefined;
  });
  t.match(leaderName, /t1.*\n.*t2.*\n.*t3/s);
  const agent = await startAgentProcess('tls-agent', servers.map((s) => s.rpcAddr), { role: 'tls' }, tlsArgs(agentFiles));
  agents.push(agent);
  const jobFile = join(root.path, 'job.json');
  await run('sh', ['-c', `echo '{"name":"over-tls","schedule":"@manually","executor":"shell","executor_config":{"command":"echo secure"},"tags":{"role":"tls:1"}}' > ${jobFile}`]);
  await ct(['jobs', 'put', '-f', jobFile, '--address', https(servers[1] as ServerProcess)], cliEnv);
  await ct(['jobs', 'run', 'over-tls', '--address', https(servers[2] as ServerProcess)], cliEnv);
  const out = await until('the execution on the agent', async () => {
    const o = await ct(['jobs', 'executions', 'over-tls', '--json', '--address', https(servers[0] as ServerProcess)], cliEnv);
    const list = JSON.parse(o) as { state: string; node_name: string; output: string }[];
    return list.find((e) => e.state === 'succeeded');
  });
  t.equal(out.node_name, 'tls-agent');
  t.equal(out.output, 'secure\n');
  // Without a client certificate the API is closed.
  await t.rejects(ct(['jobs', 'list', '--address', https(servers[0] as ServerProcess)], { CLOCKTOWER_TLS_CA: '', CLOCKTOWER_TLS_CERT: '', CLOCKTOWER_TLS_KEY: '' }), /cannot reach|error/);
});

const heartbeat = (from: string, to: string): RaftMessage => ({
  type: 'MESSAGE_TYPE_VOTE', from, to, term: 900, log_term: 900, index: 100_000, entries: [], commit: 0,
  reject: false, reject_hint: 0, reject_hint_term: 0, context: '',
});

function creds(f: { ca: string; cert: string; key: string } | null): grpc.ChannelCredentials {
  return f ? grpc.credentials.createSsl(readFileSync(f.ca), readFileSync(f.key), readFileSync(f.cert)) : grpc.credentials.createSsl(readFileSync(cliFiles.ca));
}
const override = { 'grpc.ssl_target_name_override': 'server.dc1.clocktower' };

async function sendRaft(addr: string, f: { ca: string; cert: string; key: string } | null, m: RaftMessage): Promise<grpc.ServiceError | null> {
  const c = new (raftProto().clocktower.raft.v1.Raft)(addr, creds(f), override);
  const err = await new Promise<grpc.ServiceError | null>((resolve) => {
    const stream = c.Send({ deadline: Date.now() + 5000 }, (e) => resolve(e));
    stream.write(m);
    stream.end();
  });
  c.close();
  return err;
}

async function joinAs(addr: string, f: { ca: string; cert: string; key: string } | null): Promise<grpc.ServiceError | null> {
  const c = new (clusterProto().clocktower.cluster.v1.Cluster)(addr, creds(f), override);
  const err = await new Promise<grpc.ServiceError | null>((resolve) => {
    c.Join({ node: { node: 't1', rpc_addr: '127.0.0.1:1', http_addr: '127.0.0.1:2' } }, { deadline: Date.now() + 5000 }, (e) => resolve(e));
  });
  c.close();
  return err;
}

async function leaveAs(addr: string, f: { ca: string; cert: string; key: string } | null, node: string): Promise<{ err: grpc.ServiceError | null; error: string }> {
  const c = new (clusterProto().clocktower.cluster.v1.Cluster)(addr, creds(f), override);
  const out = await new Promise<{ err: grpc.ServiceError | null; error: string }>((resolve) => {
    c.Leave({ node }, { deadline: Date.now() + 5000 }, (e, r) => resolve({ err: e, error: r?.error ?? '' }));
  });
  c.close();
  return out;
}

t.test('without a certificate, with another CA\'s, or with an agent certificate: refused, nothing appended', async (t) => {
  const target = servers[1] as ServerProcess;
  const before = { term: await metric(target, 'clocktower_raft_term'), commit: await metric(target, 'clocktower_raft_commit_index') };
  const noCert = await sendRaft(target.rpcAddr, null, heartbeat('t1', 't2'));
  t.equal(noCert?.code, grpc.status.UNAVAILABLE, `no client certificate: ${noCert?.details ?? ''}`);
  const foreign = await sendRaft(target.rpcAddr, foreignFiles, heartbeat('t1', 't2'));
  t.equal(foreign?.code, grpc.status.UNAVAILABLE, `another CA: ${foreign?.details ?? ''}`);
  const asAgent = await sendRaft(target.rpcAddr, agentFiles, heartbeat('t1', 't2'));
  t.equal(asAgent?.code, grpc.status.PERMISSION_DENIED, asAgent?.details ?? '');
  t.match(asAgent?.details, /only server certificates may speak Raft/);
  const joinAgent = await joinAs(target.rpcAddr, agentFiles);
  t.equal(joinAgent?.code, grpc.status.PERMISSION_DENIED, 'an agent certificate may not Join');
  t.match(joinAgent?.details, /needs a server certificate/);
  const joinCli = await joinAs(target.rpcAddr, cliFiles);
  t.equal(joinCli?.code, grpc.status.PERMISSION_DENIED, 'a CLI certificate may not Join');
  const leaveAgent = await leaveAs(target.rpcAddr, agentFiles, 't1');
  t.equal(leaveAgent.err?.code, grpc.status.PERMISSION_DENIED, 'an agent certificate may not ask a server to Leave');
  // t3's certificate asking to remove t1: refused, whoever leads.
  const leaveImpostor = await leaveAs(target.rpcAddr, serverFiles[2] ?? null, 't1');
  t.equal(leaveImpostor.err, null);
  t.match(leaveImpostor.error, /the certificate of server t3 cannot remove t1/);
  // t3's certificate speaking for t1: the messages are dropped.
  const impostor = await sendRaft(target.rpcAddr, serverFiles[2] ?? null, heartbeat('t1', 't2'));
  t.equal(impostor, null, 'the stream itself is a server\'s');
  await until('the impostor to be logged', async () => (/sent with the certificate of server t3/.test(target.log()) ? true : undefined));
  t.equal(await metric(target, 'clocktower_raft_term'), before.term, 'the term did not move');
  t.ok(await metric(target, 'clocktower_raft_commit_index') >= before.commit);
  const list = JSON.parse(await ct(['jobs', 'list', '--json', '--address', https(target)], cliEnv)) as unknown[];
  t.equal(list.length, 1, 'still the one job');
  const peers = JSON.parse(await ct(['raft', 'list-peers', '--json', '--address', https(target)], cliEnv)) as { id: string }[];
  t.same(peers.map((p) => p.id).sort(), ['t1', 't2', 't3'], 'every server still a peer');
});

t.test('certificate rotation without a restart: a server presents its new certificate on both ports, and the cluster goes on', async (t) => {
  const target = servers[0] as ServerProcess;
  const f = serverFiles[0];
  if (!f) throw new Error('no certificate for t1');
  // A new certificate for t1 from the same CA, moved over the files the server was started with.
  tls(['cert', 'create', '--server', '--node', 't1', ...caArgs(certs)]);
  const fresh = files(certs, 'dc1-server-clocktower-3');
  const fingerprint = (pem: Buffer) => new X509Certificate(pem).fingerprint256;
  const before = fingerprint(readFileSync(f.cert));
  const after = fingerprint(readFileSync(fresh.cert));
  t.not(after, before);
  const presented = (addr: string) => new Promise<string>((resolve, reject) => {
    const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
    const socket = connect({ host, port, ca: readFileSync(cliFiles.ca), cert: readFileSync(cliFiles.cert), key: readFileSync(cliFiles.key), servername: 'server.dc1.clocktower', ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      const fp = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
      socket.destroy();
      resolve(fp);
    });
    socket.once('error', reject);
  });
  t.equal(await presented(target.httpAddr), before, 'the API presents the first certificate');
  t.equal(await presented(target.rpcAddr), before, 'so does the gRPC port');
  // Key first, then the certificate, each by rename (the server reads a pair that matches once both are in).
  for (const [from, to] of [[fresh.key, f.key], [fresh.cert, f.cert]] as const) {
    writeFileSync(`${to}.new`, readFileSync(from), { mode: 0o600 });
    renameSync(`${to}.new`, to);
  }
  await until('the API to present the new certificate', async () => ((await presented(target.httpAddr)) === after ? true : undefined));
  await until('the gRPC port to present the new certificate', async () => ((await presented(target.rpcAddr)) === after ? true : undefined));
  // The cluster still works through the rotated server: a write through it commits everywhere.
  await ct(['jobs', 'put', '-f', join(root.path, 'job.json'), '--address', https(target)], cliEnv);
  const peers = await ct(['raft', 'list-peers', '--address', https(target)], cliEnv);
  t.match(peers, /t1.*\n.*t2.*\n.*t3/s, 'all three servers still in the cluster');
  t.equal((JSON.parse(await ct(['jobs', 'list', '--json', '--address', https(servers[2] as ServerProcess)], cliEnv)) as unknown[]).length, 1);
});

t.test('without TLS a non-loopback address needs --insecure', async (t) => {
  const err = await run(process.execPath, [mainJs, 'agent', '--server', '--bootstrap-expect', '1', '--rpc-addr', '0.0.0.0:0', '--data-dir', join(root.path, 'open')]).catch((e: { stderr: string; code: number }) => e);
  t.match((err as { stderr: string }).stderr, /0\.0\.0\.0:0 is not a loopback address, and there is no TLS/);
  t.equal((err as { code: number }).code, 2);
  const agentErr = await run(process.execPath, [mainJs, 'agent', '--join', '10.1.2.3:6868']).catch((e: { stderr: string }) => e);
  t.match((agentErr as { stderr: string }).stderr, /10\.1\.2\.3:6868 is not a loopback address/);
});
