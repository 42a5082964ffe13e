// Keys a plugin declares secret when the plugin is on agents only: a real
// one-server cluster (which has no such plugin) with ACLs on, a gRPC agent
// and a pull agent, each with a plugin program (built with the SDK) that
// declares secret keys. The agents send the declarations when they
// register, the leader records them in the replicated state, and the
// server redacts them for a read token (shown to a write token); the
// record outlives the agents and a restart of the server.

import t from 'tap';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { call, tempDir, until, type ExecutionJson } from '../support/light-process.js';
import { serverSpecs, startServerProcess, type ServerProcess } from '../support/cluster-processes.js';
import { startAgentProcess, type AgentProcess } from '../support/agent-process.js';

const root = tempDir('ct-agent-secrets-');
const [spec] = await serverSpecs(root.path, ['s1']);
if (!spec) throw new Error('no server spec');
const apiToken = ['--api-token', 'sesame'];
const master = { authorization: 'Bearer sesame' };
let server: ServerProcess = await startServerProcess(spec, ['--tag', 'role=server', ...apiToken]);
const agents: AgentProcess[] = [];
t.teardown(async () => {
  for (const a of agents) await a.kill9().catch(() => {});
  await server.kill9().catch(() => {});
  root.remove();
});

function pluginDir(name: string, executor: string, keys: string): string {
  const dir = join(root.path, name);
  mkdirSync(dir);
  const path = join(dir, `clocktower-executor-${executor}`);
  writeFileSync(path, `#!/bin/sh\nFIXTURE_SECRET_KEYS=${keys} exec "${process.execPath}" "${resolve('dist/test/plugins/fixtures/fixture-plugin.js')}" "$@"\n`);
  chmodSync(path, 0o755);
  return dir;
}

agents.push(await startAgentProcess('a-grpc', [spec.rpcAddr], { role: 'vault' }, ['--plugin-dir', pluginDir('grpc-plugins', 'vault', 'dsn,signing_material'), ...apiToken]));
agents.push(await startAgentProcess('a-pull', [server.url], { role: 'pull' }, ['--pull', '--plugin-dir', pluginDir('pull-plugins', 'ledger', 'ledger_pin'), ...apiToken]));

async function must(method: string, path: string, body: unknown, status: number): Promise<Record<string, unknown>> {
  const r = await call(server.url, method, path, body, master);
  if (r.status !== status) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.body as Record<string, unknown>;
}
await must('POST', '/v1/acl/bootstrap', undefined, 201);
await must('PUT', '/v1/acl/policies/reader', { jobs: { '': 'read' } }, 200);
await must('PUT', '/v1/acl/policies/writer', { jobs: { '': 'write' } }, 200);
const reader = { authorization: `Bearer ${String((await must('POST', '/v1/acl/tokens', { policies: ['reader'] }, 201))['secret'])}` };
const writer = { authorization: `Bearer ${String((await must('POST', '/v1/acl/tokens', { policies: ['writer'] }, 201))['secret'])}` };

const vault = { name: 'vault-load', schedule: '@manually', executor: 'vault', tags: { role: 'vault' }, executor_config: { text: 'loaded', dsn: 'postgres://loader@db/x', signing_material: 'k3y', region: 'eu' } };
const ledger = { name: 'ledger-post', schedule: '@manually', executor: 'ledger', tags: { role: 'pull' }, executor_config: { text: 'posted', ledger_pin: '4711', book: 'main' } };
await must('POST', '/v1/jobs', vault, 201);
await must('POST', '/v1/jobs', ledger, 201);

async function configOf(name: string, headers: Record<string, string>): Promise<Record<string, string>> {
  const r = await call(server.url, 'GET', `/v1/jobs/${name}`, undefined, headers);
  if (r.status !== 200) throw new Error(`GET ${name}: ${r.status} ${r.text}`);
  return (r.body as { executor_config: Record<string, string> }).executor_config;
}
const vaultShown = { text: 'loaded', dsn: '<redacted>', signing_material: '<redacted>', region: 'eu' };
const ledgerShown = { text: 'posted', ledger_pin: '<redacted>', book: 'main' };

t.test('what agents declare is recorded and redacted on a server without the plugin', async (t) => {
  // Recorded by a command the leader proposes when the agent registers: wait for it to apply.
  await until('the declarations to be recorded', async () => (JSON.stringify(await configOf('vault-load', reader)) === JSON.stringify(vaultShown)
    && JSON.stringify(await configOf('ledger-post', reader)) === JSON.stringify(ledgerShown) ? true : undefined));
  t.same(await configOf('vault-load', reader), vaultShown, 'a gRPC agent\'s plugin: redacted for a read token');
  t.same(await configOf('ledger-post', reader), ledgerShown, 'a pull agent\'s plugin too');
  t.same(await configOf('vault-load', writer), vault.executor_config, 'a write token sees them');
  t.equal((await call(server.url, 'POST', '/v1/jobs/vault-load/run', undefined, writer)).status, 202);
  const done = await until('vault-load to finish', async () => ((await call(server.url, 'GET', '/v1/jobs/vault-load/executions', undefined, writer)).body as ExecutionJson[]).find((e) => e.finished_at !== null));
  t.equal(done.success, true, done.output);
  t.equal(done.node_name, 'a-grpc', 'it ran on the agent with the plugin');
});

t.test('the record outlives the agents and a server restart', async (t) => {
  for (const a of agents.splice(0)) await a.stop();
  await server.stop();
  server = await startServerProcess(spec, ['--tag', 'role=server', ...apiToken]);
  t.same(await configOf('vault-load', reader), vaultShown);
  t.same(await configOf('ledger-post', reader), ledgerShown);
});
