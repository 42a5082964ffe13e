// The server's lifecycle driven step by step on real parts: the dispatcher,
// the ODM host and callback sender, the agents' host with this server's own
// agent (the real runner, client and in-process link bin/ composes), and the
// command gate, over a one-server log that applies each command at once and
// whose leadership the test moves.
import t from 'tap';
import { ClusterError, type Member, type ServerClusterNode } from '../../../server/cluster/cluster-node.js';
import { Dispatcher } from '../../../server/dispatch/dispatcher.js';
import { OdmCallbackSender } from '../../../server/dispatch/odm/odm-callback-sender.js';
import { OdmExecutorHost } from '../../../server/dispatch/odm/odm-executor-host.js';
import { CommandGate, declareSecretKeys } from '../../../server/node/command-gate.js';
import { ServerAgents } from '../../../server/node/server-agents.js';
import { ServerLifecycle, untilLeading } from '../../../server/node/server-lifecycle.js';
import { CommandType, decodeCommand } from '../../../server/state/commands.js';
import { defaultCatchUp, type JobSpec } from '../../../server/state/job.js';
import { StateMachine, type ApplyResult } from '../../../server/state/state-machine.js';
import { ExecutorRegistry } from '../../../plugins/sdk/executor-registry.js';
import type { Executor } from '../../../plugins/sdk/executor.js';
import { ownAgent } from '../../../bin/own-agent.js';

/** A cluster of one whose leadership the test sets; a proposal is applied to the state machine at once. */
class OneServerLog implements ServerClusterNode<ApplyResult> {
  readonly nodeName = 'n1';
  private leading = false;
  private index = 0;
  private readonly listeners = new Set<(leader: boolean) => void>();
  constructor(private readonly state: StateMachine) {}
  propose(data: Uint8Array): Promise<ApplyResult> {
    if (!this.leading) return Promise.reject(new ClusterError('CT_CLUSTER_NOT_LEADER', 'not the leader'));
    return Promise.resolve(this.state.apply(decodeCommand(data), ++this.index));
  }
  isLeader(): boolean { return this.leading; }
  leaderName(): string | null { return this.leading ? this.nodeName : null; }
  members(): Member[] { return [{ name: this.nodeName, address: '', role: this.leading ? 'leader' : 'follower', voter: true, status: 'alive' }]; }
  addressOf(): null { return null; }
  readBarrier(): Promise<void> { return Promise.resolve(); }
  onLeadershipChange(listener: (leader: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  setLeading(leading: boolean): void {
    this.leading = leading;
    for (const l of this.listeners) l(leading);
  }
  close(): Promise<void> { return Promise.resolve(); }
}

/** An executor whose runs wait until the test lets them finish. */
class HeldExecutor implements Executor {
  readonly name = 'held';
  readonly secretKeys = ['passphrase'];
  started = 0;
  private releases: (() => void)[] = [];
  async execute(): Promise<{ success: boolean; exitCode: number; error: string }> {
    this.started++;
    await new Promise<void>((r) => this.releases.push(r));
    return { success: true, exitCode: 0, error: '' };
  }
  release(): void {
    for (const r of this.releases.splice(0)) r();
  }
}

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const spec: JobSpec = {
  name: 'held-job', displayName: '', timezone: '', schedule: '@manually', owner: '', ownerEmail: '', disabled: false,
  tags: {}, metadata: {}, retries: 0, parentJob: '', processors: {}, concurrency: 'allow', executor: 'held',
  executorConfig: {}, ephemeral: false, startsAtMs: null, expiresAtMs: null, catchUp: defaultCatchUp,
};

function server(t: { teardown(fn: () => unknown): void }) {
  const now = () => Date.now();
  const state = new StateMachine();
  const log = new OneServerLog(state);
  const commands = new CommandGate(log);
  const held = new HeldExecutor();
  const executors = new ExecutorRegistry([held]);
  const lines: string[] = [];
  const closed: string[] = [];
  const agents = new ServerAgents({
    nodeName: 'n1', state, outputLimit: 1024, log: (line) => lines.push(line),
    settings: { tags: {}, capacity: 4, heartbeatTimeoutMs: 5000, shutdownGraceMs: 10_000 },
    localExecutors: () => executors.names(),
    validate: () => null,
    batches: true,
    // Nowhere to dial: while this server leads, its agent attaches in-process.
    ownAgent: (host) => ownAgent(host, { nodeName: 'n1', servers: [], executors, version: 'test', settings: { tags: {}, capacity: 4 }, log: (line) => lines.push(line), tls: null }),
    declareSecretKeys: (declared) => declareSecretKeys(state, commands, now, (line) => lines.push(line), declared),
  });
  const odmHost = new OdmExecutorHost({ state, log: commands, now, selfNode: 'n1', services: {}, callbackBase: () => 'http://127.0.0.1:1' }, agents.host, agents.host);
  const odmCallbacks = new OdmCallbackSender({ state, log: commands, now });
  const dispatcher = new Dispatcher({ nodeName: 'n1', state, log: commands, host: odmHost, chooser: odmHost, now, outputLimit: 1024 });
  const closable = (name: string) => ({ close: () => { closed.push(name); } });
  const lifecycle = new ServerLifecycle({
    dispatcher, odmHost, odmCallbacks, agents, commands,
    notifier: closable('notifier'), processors: closable('processors'), executors: closable('executors'),
  });
  t.teardown(() => lifecycle.close());
  const ownAgentAttached = () => agents.host.status().some((a) => a.node === 'n1' && a.transport === 'local');
  return { state, log, commands, held, agents, dispatcher, lifecycle, closed, lines, ownAgentAttached };
}

t.test('lead and follow move the dispatcher and the own agent with the leadership', async (t) => {
  const s = server(t);
  s.lifecycle.start(s.log);
  t.notOk(s.dispatcher.isLeading, 'a follower does not dispatch');
  s.log.setLeading(true);
  t.ok(s.dispatcher.isLeading, 'the leader dispatches');
  await until('the own agent to attach in-process', s.ownAgentAttached);
  await until('its declared secret keys to be recorded', () => s.state.declaredSecretKeys('held').includes('passphrase'));
  s.log.setLeading(false);
  t.notOk(s.dispatcher.isLeading, 'a deposed leader stops dispatching');
  t.notOk(s.ownAgentAttached(), 'the own agent is detached from the deposed leader');
  s.log.setLeading(true);
  t.ok(s.dispatcher.isLeading, 'leading again');
  await until('the own agent to attach again', s.ownAgentAttached);
});

t.test('untilLeading resolves once the log leads', async (t) => {
  const s = server(t);
  let led = false;
  const leading = untilLeading(s.log).then(() => { led = true; });
  await new Promise((r) => setImmediate(r));
  t.notOk(led, 'not while it follows');
  s.log.setLeading(true);
  await leading;
  t.ok(led);
});

t.test('close drains: the own agent finishes its run and its result is committed, then commands are refused and the parts close in order', async (t) => {
  const s = server(t);
  s.lifecycle.start(s.log);
  s.log.setLeading(true);
  await until('the own agent to attach in-process', s.ownAgentAttached);
  t.ok((await s.commands.submit({ type: CommandType.PutJob, atMs: Date.now(), job: spec })).ok, 'the job is saved');
  t.ok((await s.dispatcher.runNow('held-job')).ok, 'the run is recorded');
  await until('the run to start on the own agent', () => s.held.started === 1);

  const closing = s.lifecycle.close();
  await until('the drain to wait for the own agent', () => s.lines.some((l) => l.includes("executions of this server's own agent")));
  t.notOk(s.dispatcher.isLeading, 'the dispatcher fires nothing more while the own agent drains');
  t.notOk(s.commands.refused, 'commands are still taken while the own agent drains (its result must commit)');
  s.held.release();
  await closing;

  const execution = s.state.executionsOf('held-job')?.[0];
  t.equal(execution?.state, 'succeeded', 'the drained run\'s result was committed');
  t.ok(s.commands.refused, 'commands are refused once drained');
  await t.rejects(s.commands.submit({ type: CommandType.SetPaused, atMs: Date.now(), paused: true }), { code: 'CT_CLUSTER_CLOSED' });
  t.same(s.closed, ['notifier', 'processors', 'executors'], 'the parts behind the dispatcher close in order');
  s.log.setLeading(true);
  t.notOk(s.dispatcher.isLeading, 'a leadership announced after close starts nothing');
});

t.test('close without agents (light mode) shuts the dispatcher down and refuses nothing', async (t) => {
  const state = new StateMachine();
  const log = new OneServerLog(state);
  const commands = new CommandGate(log);
  const now = () => Date.now();
  const host = { execute: async () => ({ success: true, exitCode: 0, error: '' }), executors: () => ['noop'] };
  const odmHost = new OdmExecutorHost({ state, log: commands, now, selfNode: 'n1', services: {}, callbackBase: () => 'http://127.0.0.1:1' }, host);
  const odmCallbacks = new OdmCallbackSender({ state, log: commands, now });
  const dispatcher = new Dispatcher({ nodeName: 'n1', state, log: commands, host: odmHost, chooser: odmHost, now, outputLimit: 1024 });
  const closed: string[] = [];
  const closable = (name: string) => ({ close: () => { closed.push(name); } });
  const lifecycle = new ServerLifecycle({ dispatcher, odmHost, odmCallbacks, agents: null, commands, notifier: closable('notifier'), processors: closable('processors'), executors: closable('executors') });
  lifecycle.start(log);
  log.setLeading(true);
  t.ok(dispatcher.isLeading);
  await lifecycle.close();
  t.notOk(dispatcher.isLeading, 'the dispatcher has shut down');
  t.notOk(commands.refused, 'light mode refuses nothing (it has no agents to leave work to)');
  t.same(closed, ['notifier', 'processors', 'executors']);
});
