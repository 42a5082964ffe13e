// A pull agent on mutual TLS: a one-server cluster with certificates from
// `clocktower tls`, a pull agent joining its https:// API with an agent
// certificate runs a job; a pull agent whose certificate is from another CA
// never registers.
import t from 'tap';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { spawn } from 'node:child_process';
import { mainJs, tempDir, until } from '../support/light-process.js';
import { serverSpecs, startServerProcess } from '../support/cluster-processes.js';
import { startAgentProcess, type AgentProcess } from '../support/agent-process.js';
import { tlsCommand } from '../../bin/cli/tls-commands.js';
import { tlsClientOptions } from '../../common/tls.js';

const root = tempDir('ct-pull-tls-');
const certs = join(root.path, 'certs');
const other = join(root.path, 'other');
mkdirSync(certs);
mkdirSync(other);
const tls = (args: string[]) => tlsCommand(args, () => {});
tls(['ca', 'create', '--dir', certs]);
tls(['ca', 'create', '--dir', other]);
const caArgs = (dir: string) => ['--ca', join(dir, 'clocktower-ca.pem'), '--key', join(dir, 'clocktower-ca-key.pem'), '--dir', dir];
tls(['cert', 'create', '--server', '--node', 's1', ...caArgs(certs)]);
tls(['cert', 'create', '--agent', ...caArgs(certs)]);
tls(['cert', 'create', '--cli', ...caArgs(certs)]);
tls(['cert', 'create', '--agent', ...caArgs(other)]);
const files = (dir: string, name: string) => ({ ca: join(dir, 'clocktower-ca.pem'), cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) });
const tlsArgs = (f: { ca: string; cert: string; key: string }) => ['--tls-ca', f.ca, '--tls-cert', f.cert, '--tls-key', f.key];
const cli = files(certs, 'dc1-cli-clocktower-0');

const [spec] = await serverSpecs(root.path, ['s1']);
if (!spec) throw new Error('no spec');
const server = await startServerProcess(spec, tlsArgs(files(certs, 'dc1-server-clocktower-0')));
const base = `https://${spec.httpAddr}`;
const agents: AgentProcess[] = [];
const client = new Agent({ connect: tlsClientOptions(cli) });
t.teardown(async () => {
  for (const a of agents) await a.kill9().catch(() => {});
  await server.kill9().catch(() => {});
  await client.close();
  root.remove();
});

async function api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await request(`${base}${path}`, {
    method, dispatcher: client, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.statusCode, body: await res.body.json() };
}

t.test('a pull agent with an agent certificate runs a job over https', async (t) => {
  const a = await startAgentProcess('tp1', [base], { pool: 'tls' }, ['--pull', ...tlsArgs(files(certs, 'dc1-agent-clocktower-0'))]);
  agents.push(a);
  t.equal((await api('POST', '/v1/jobs', { name: 'over-tls', schedule: '@manually', executor: 'shell', tags: { pool: 'tls' }, executor_config: { command: 'echo secure' } })).status, 201);
  t.equal((await api('POST', '/v1/jobs/over-tls/run')).status, 202);
  const done = await until('the run over TLS', async () => {
    const list = (await api('GET', '/v1/jobs/over-tls/executions')).body as { state: string; node_name: string; output: string; finished_at: string | null }[];
    return list.find((e) => e.finished_at !== null);
  });
  t.match(done, { state: 'succeeded', node_name: 'tp1', output: 'secure\n' });
});

t.test('a certificate from another CA is refused, and the agent keeps trying', async (t) => {
  const foreign = { ...files(other, 'dc1-agent-clocktower-0'), ca: join(certs, 'clocktower-ca.pem') };
  const child = spawn(process.execPath, [mainJs, 'agent', '--pull', '--node-name', 'tp2', '--join', base, ...tlsArgs(foreign)], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise((r) => child.once('exit', r));
  t.teardown(async () => { child.kill('SIGKILL'); await exited; });
  let log = '';
  child.stderr.on('data', (c: Buffer) => { log += c.toString(); });
  // Two failed attempts in its log: it was refused and tried again.
  await until('two refused attempts', async () => ((log.match(/agent: https:\/\/[^:]+:\d+: /g) ?? []).length >= 2 ? true : undefined));
  t.notMatch(log, /registered with the leader/);
  const list = (await api('GET', '/v1/agents')).body as { name: string }[];
  t.notOk(list.some((x) => x.name === 'tp2'), 'not among the agents');
});
