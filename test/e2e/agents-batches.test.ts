// Batches on the agent stream, end to end with real processes: a server
// (`clocktower agent --server --bootstrap-expect 1`) and agents (`clocktower
// agent --join`) running a no-op executor plugin that logs each run.
// - A burst of executions on one agent: its assignments, results and acks
//   travel batched (the leader's message counts in /v1/agents say so), each
//   runs once and is committed once.
// - The agent cut off (its link refused) while its executions finish: it
//   holds their results unacknowledged, reconnects, re-sends them (batched);
//   each is committed once, none lost.
// - Rolling upgrade: an agent that speaks as an older release
//   (CLOCKTOWER_STREAM_BATCHES=0), a server that does, and a raw gRPC client
//   whose Register has no accepts_batches all work, with single messages.
import t, { type Test } from 'tap';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { call, tempDir, until } from '../support/light-process.js';
import { nodeLauncher, serverSpecs, startServerProcess, type ServerProcess } from '../support/cluster-processes.js';
import { startAgentProcess, type AgentProcess } from '../support/agent-process.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { freePort } from '../support/free-port.js';
import { holdGate } from '../support/flock-gate.js';
import { parsePrometheusText } from '../support/prometheus-text.js';
import { agentProto } from '../../proto/load-proto.js';
import type { AgentMessage } from '../../proto/generated/clocktower/agent/v1/AgentMessage.js';
import type { ServerMessage__Output } from '../../proto/generated/clocktower/agent/v1/ServerMessage.js';

const root = tempDir('ct-agents-batches-');
const noopJs = resolve('dist/bench/fixtures/noop-executor.js');
const oldEnv = { CLOCKTOWER_STREAM_BATCHES: '0' };

function pluginDir(name: string): { dir: string; log: string } {
  const dir = join(root.path, `plugins-${name}`);
  const log = join(root.path, `runs-${name}.log`);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'clocktower-executor-noop');
  writeFileSync(path, `#!/bin/sh\nCLOCKTOWER_NOOP_LOG="${log}" exec "${process.execPath}" "${noopJs}" "$@"\n`);
  chmodSync(path, 0o755);
  return { dir, log };
}

const [spec] = await serverSpecs(root.path, ['s1']);
const [oldSpec] = await serverSpecs(root.path, ['old-server']);
if (!spec || !oldSpec) throw new Error('no spec');
// The batching agent knows only the proxy, so cutting the proxy cuts it off.
const proxy = await startFaultProxy(spec.rpcAddr);
const server: ServerProcess = await startServerProcess(spec, ['--advertise-rpc-addr', proxy.address, '--agent-timeout', '20s']);
const oldServer: ServerProcess = await startServerProcess(oldSpec, ['--agent-timeout', '20s'], { ...nodeLauncher, env: { ...process.env, ...oldEnv } });
const metricsPort = await freePort();
const burstPlugins = pluginDir('b1');
const oldAgentPlugins = pluginDir('old-agent');
const onOldServerPlugins = pluginDir('n2');
const agents: AgentProcess[] = [];
t.teardown(async () => {
  for (const a of agents) await a.kill9().catch(() => {});
  await server.kill9().catch(() => {});
  await oldServer.kill9().catch(() => {});
  await proxy.close();
  root.remove();
});
agents.push(await startAgentProcess('b1', [proxy.address], { role: 'burst' }, ['--plugin-dir', burstPlugins.dir, '--metrics-addr', `127.0.0.1:${metricsPort}`]));
agents.push(await startAgentProcess('old-agent', [spec.rpcAddr], { role: 'old-agent' }, ['--plugin-dir', oldAgentPlugins.dir], oldEnv));
agents.push(await startAgentProcess('n2', [oldSpec.rpcAddr], { role: 'n2' }, ['--plugin-dir', onOldServerPlugins.dir]));

interface StreamJson { messages_sent: number; items_sent: number; messages_received: number; items_received: number }
interface AgentJson { name: string; batches: boolean; stream: StreamJson }

async function agentJson(url: string, name: string): Promise<AgentJson> {
  return until(`${name} in /v1/agents`, async () => {
    const a = await call(url, 'GET', '/v1/agents');
    return a.status === 200 ? (a.body as AgentJson[]).find((x) => x.name === name) : undefined;
  });
}

/** Create `count` jobs due on the same second, a few seconds from now (so all are created first). */
async function burst(url: string, prefix: string, count: number, job: Record<string, unknown> | ((name: string) => Record<string, unknown>)): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const at = Math.ceil((Date.now() + 3000) / 1000) * 1000;
  const schedule = `@at ${new Date(at).toISOString().replace('.000Z', 'Z')}`;
  const r = await call(url, 'POST', '/v1/restore', names.map((name) => ({ name, schedule, ...(typeof job === 'function' ? job(name) : job) })));
  if (r.status >= 300) throw new Error(`restore: ${r.status} ${r.text}`);
  return names;
}

async function succeeded(url: string, prefix: string): Promise<number> {
  const r = await call(url, 'GET', `/v1/jobs?q=${encodeURIComponent(`${prefix}-`)}&status=success&_end=0`);
  return Number(r.headers['x-total-count']);
}

async function allSucceeded(url: string, prefix: string, count: number, ms = 60_000): Promise<void> {
  await until(`${count} jobs ${prefix}-* to succeed`, async () => ((await succeeded(url, prefix)) >= count ? true : undefined), ms);
}

/** Each job has exactly one execution, succeeded; returns their ids. */
async function oneEach(t: Test, url: string, names: readonly string[]): Promise<string[]> {
  const ids: string[] = [];
  let doubled = 0;
  let failed = 0;
  for (const name of names) {
    const list = (await call(url, 'GET', `/v1/jobs/${name}/executions`)).body as { id: string; state: string }[];
    if (list.length !== 1) doubled++;
    if (list[0]?.state !== 'succeeded') failed++;
    if (list[0]) ids.push(list[0].id);
  }
  t.equal(doubled, 0, 'every job has exactly one execution');
  t.equal(failed, 0, 'every execution succeeded');
  return ids;
}

/** Runs per execution id in a noop plugin's log. */
function runsIn(log: string): Map<string, number> {
  const runs = new Map<string, number>();
  if (!existsSync(log)) return runs;
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const id = line.split(' ')[0];
    if (id) runs.set(id, (runs.get(id) ?? 0) + 1);
  }
  return runs;
}

function ranOnce(t: Test, log: string, ids: readonly string[]): void {
  const runs = runsIn(log);
  t.equal(ids.filter((id) => runs.get(id) !== 1).length, 0, 'the plugin ran each execution exactly once');
}

async function agentGauges(): Promise<{ running: number; unacked: number }> {
  const r = await call(`http://127.0.0.1:${metricsPort}`, 'GET', '/metrics');
  // Only our two gauges (the process metrics may carry values the strict parser refuses, e.g. an event-loop lag of "Nan").
  const m = parsePrometheusText(r.text.split('\n').filter((l) => /^clocktower_node_|^# (HELP|TYPE) clocktower_node_/.test(l)).join('\n'));
  return { running: m.value('clocktower_node_executions_running'), unacked: m.value('clocktower_node_results_unacked') };
}

t.test('a burst on one agent travels batched; each execution runs once and is committed once', async (t) => {
  const before = (await agentJson(server.url, 'b1')).stream;
  const count = 400;
  const names = await burst(server.url, 'burst', count, { executor: 'noop', executor_config: {}, tags: { role: 'burst' } });
  await allSucceeded(server.url, 'burst', count);
  const ids = await oneEach(t, server.url, names);
  ranOnce(t, burstPlugins.log, ids);
  await until('the acks to reach the agent', async () => ((await agentGauges()).unacked === 0 ? true : undefined));
  const a = await agentJson(server.url, 'b1');
  t.equal(a.batches, true, 'both ends batch');
  const sent = { messages: a.stream.messages_sent - before.messages_sent, items: a.stream.items_sent - before.items_sent };
  const received = { messages: a.stream.messages_received - before.messages_received, items: a.stream.items_received - before.items_received };
  t.ok(sent.items >= 2 * count, `an assignment and an ack for each (${sent.items} items)`);
  t.ok(sent.messages * 10 <= sent.items, `in few messages (${sent.messages} messages for ${sent.items} items)`);
  t.ok(received.items >= count, `a result for each (${received.items} items)`);
  t.ok(received.messages < received.items, `results in fewer messages than results (${received.messages} messages, heartbeats included, for ${received.items} items)`);
});

t.test('cut off with unacknowledged results: the agent re-sends them after the reconnect; none doubled, none lost', async (t) => {
  const gate = join(root.path, 'gate');
  writeFileSync(gate, '');
  const release = await holdGate(gate, (fn) => t.teardown(fn));
  const runLog = join(root.path, 'gated-runs.log');
  const count = 30;
  const names = await burst(server.url, 'gated', count, (name) => ({
    executor: 'shell', tags: { role: 'burst' },
    executor_config: { shell: 'true', command: `flock ${gate} true && echo ${name} >> ${runLog}` },
  }));
  await until(`${count} executions waiting at the gate on b1`, async () => ((await agentGauges()).running === count ? true : undefined), 30_000);
  const registrations = (agents[0]?.log().match(/registered with the leader/g) ?? []).length;
  proxy.block();
  release();
  await until('all to finish on the cut-off agent, unacknowledged', async () => {
    const g = await agentGauges();
    return g.running === 0 && g.unacked === count ? true : undefined;
  }, 30_000);
  t.equal(await succeeded(server.url, 'gated'), 0, 'nothing committed while it is cut off');
  proxy.unblock();
  await until('b1 to register again', async () => ((agents[0]?.log().match(/registered with the leader/g) ?? []).length > registrations ? true : undefined), 30_000);
  await allSucceeded(server.url, 'gated', count);
  await oneEach(t, server.url, names);
  const lines = readFileSync(runLog, 'utf8').split('\n').filter((l) => l !== '');
  t.same([...lines].sort(), [...names].sort(), 'each ran once');
  await until('the agent to hold no result', async () => ((await agentGauges()).unacked === 0 ? true : undefined));
  const a = await agentJson(server.url, 'b1');
  t.ok(a.stream.items_received >= count, `the new stream carried the ${count} results (${a.stream.items_received} items)`);
  t.ok(a.stream.messages_received < count, `in fewer messages (${a.stream.messages_received})`);
});

t.test('an agent that speaks as an older release (no batches) still runs a burst, with single messages', async (t) => {
  const count = 100;
  const names = await burst(server.url, 'old-agent', count, { executor: 'noop', executor_config: {}, tags: { role: 'old-agent' } });
  await allSucceeded(server.url, 'old-agent', count);
  ranOnce(t, oldAgentPlugins.log, await oneEach(t, server.url, names));
  const a = await agentJson(server.url, 'old-agent');
  t.equal(a.batches, false);
  t.ok(a.stream.items_sent >= count, `${a.stream.items_sent} items sent`);
  t.ok(a.stream.messages_sent >= a.stream.items_sent, 'one message per item to it');
  t.ok(a.stream.messages_received >= a.stream.items_received, 'one message per item from it');
});

t.test('a new agent on a server that speaks as an older release works, with single messages', async (t) => {
  const count = 100;
  const names = await burst(oldServer.url, 'n2', count, { executor: 'noop', executor_config: {}, tags: { role: 'n2' } });
  await allSucceeded(oldServer.url, 'n2', count);
  ranOnce(t, onOldServerPlugins.log, await oneEach(t, oldServer.url, names));
  const a = await agentJson(oldServer.url, 'n2');
  t.equal(a.batches, false);
  t.ok(a.stream.items_received >= count, `${a.stream.items_received} results received`);
  t.ok(a.stream.messages_received >= a.stream.items_received, 'one message per result');
  t.ok(a.stream.messages_sent >= a.stream.items_sent, 'one message per assignment and ack');
});

t.test('a raw gRPC client whose Register has no accepts_batches gets single assigns and acks', async (t) => {
  const Client = agentProto().clocktower.agent.v1.Agent;
  const client = new Client(spec.rpcAddr, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const stream = client.Connect();
  const got: ServerMessage__Output[] = [];
  stream.on('data', (m: ServerMessage__Output) => {
    got.push(m);
    if (m.msg === 'assign' && m.assign) {
      const reply: AgentMessage = { result: { execution_id: m.assign.execution_id, success: true, exit_code: 0, finished_at_ms: Date.now() } };
      stream.write(reply);
    }
  });
  stream.on('error', () => {});
  t.teardown(() => stream.cancel());
  stream.write({ register: { node: 'raw', instance: 'raw-1', executors: ['noop'], capacity: 100, tags: { role: 'raw' } } });
  await until('Registered', async () => (got.some((m) => m.msg === 'registered') ? true : undefined));
  t.match(got.find((m) => m.msg === 'registered')?.registered, { accepts_batches: true }, 'the server says it takes batches; the client never sends one');
  const count = 20;
  const names = await burst(server.url, 'raw', count, { executor: 'noop', executor_config: {}, tags: { role: 'raw' } });
  await allSucceeded(server.url, 'raw', count);
  await oneEach(t, server.url, names);
  await until(`${count} acks`, async () => (got.filter((m) => m.msg === 'ack').length >= count ? true : undefined));
  t.equal(got.filter((m) => m.msg === 'assign').length, count, 'one Assign message each');
  t.equal(got.filter((m) => m.msg === 'batch').length, 0, 'never a batch');
});
