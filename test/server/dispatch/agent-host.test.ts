// The agent protocol between the leader's AgentExecutorHost and an
// AgentRunner, in one process over the in-process link (the same encoded
// messages as gRPC): real state machine, real shell executor. Results are
// acknowledged once applied, a cut-off agent re-sends what it finished,
// output produced while cut off arrives, a restarted agent's executions are
// lost, a second agent with a taken name is refused, and a fire on two
// nodes is one group.
import t from 'tap';
import { CommandType, type Command } from '../../../server/state/commands.js';
import { defaultCatchUp, type JobSpec } from '../../../server/state/job.js';
import { StateMachine, type ApplyResult } from '../../../server/state/state-machine.js';
import type { Execution } from '../../../server/state/execution.js';
import { AgentExecutorHost, type AgentHostOptions } from '../../../server/dispatch/agent-executor-host.js';
import { agentProto } from '../../../proto/load-proto.js';
import type { AgentMessage, AgentMessage__Output } from '../../../proto/generated/clocktower/agent/v1/AgentMessage.js';
import type { ServerMessage, ServerMessage__Output } from '../../../proto/generated/clocktower/agent/v1/ServerMessage.js';
import { AgentRegistry, type AgentLink } from '../../../server/dispatch/agent-registry.js';
import { OutputTail } from '../../../server/dispatch/output-tail.js';
import type { RunOutcome } from '../../../server/dispatch/executor-host.js';
import { AgentRunner } from '../../../agent/agent-runner.js';
import { ExecutorRegistry } from '../../../plugins/sdk/executor-registry.js';
import { ShellExecutor } from '../../../plugins/executors/shell/shell-executor.js';
import { LocalAgentLink } from '../../../bin/local-agent-link.js';
import { until } from '../../support/light-process.js';

function spec(name: string, command: string, over: Partial<JobSpec> = {}): JobSpec {
  return {
    name, displayName: '', timezone: '', schedule: '@manually', owner: '', ownerEmail: '', disabled: false,
    tags: {}, metadata: {}, retries: 0, parentJob: '', processors: {}, concurrency: 'allow', executor: 'shell',
    executorConfig: { command, shell: 'true' }, ephemeral: false, startsAtMs: null, expiresAtMs: null, catchUp: defaultCatchUp,
    ...over,
  };
}

class World {
  readonly state = new StateMachine({ historyLimit: 100 });
  private index = 0;
  readonly host: AgentExecutorHost;
  constructor(timeoutMs = 60_000, extra: Partial<AgentHostOptions> = {}) {
    this.host = new AgentExecutorHost({
      state: this.state, now: Date.now, selfNode: 'leader', heartbeatTimeoutMs: timeoutMs, outputLimit: 1000, servers: () => [], ...extra,
    });
  }
  apply(c: Command): Extract<ApplyResult, { ok: true }> {
    const r = this.state.apply(c, ++this.index);
    if (!r.ok) throw r.error;
    return r;
  }
  fire(job: JobSpec, nodes: string[]): Execution[] {
    if (!this.state.job(job.name)) this.apply({ type: CommandType.PutJob, atMs: 1, job });
    return [...this.apply({ type: CommandType.RecordFires, atMs: Date.now(), fires: [{ jobName: job.name, scheduledAtMs: Date.now(), trigger: 'manual', nodes }], skips: [], lastScheduled: [] }).executions];
  }
  /** What ExecutionRunner does: run through the host, commit the outcome. */
  run(e: Execution, signal = new AbortController().signal): { output: OutputTail; done: Promise<RunOutcome> } {
    const job = this.state.job(e.jobName);
    if (!job) throw new Error('no job');
    const output = new OutputTail(1000);
    const done = this.host.execute(job.executor, { jobName: job.name, config: job.executorConfig, executionId: e.id, scheduledAtMs: e.scheduledAtMs, attempt: e.attempt }, output, signal)
      .then((o) => {
        this.apply({
          type: CommandType.FinishExecutions, atMs: Date.now(),
          results: [{ id: e.id, finishedAtMs: Date.now(), state: o.success ? 'succeeded' : o.lost ? 'lost' : 'failed', output: output.text(), outputTruncated: false, exitCode: o.exitCode, error: o.error }],
        });
        return o;
      });
    return { output, done };
  }
}

function agent(node: string, tags: Record<string, string> = {}): AgentRunner {
  return new AgentRunner({ node, tags, executors: new ExecutorRegistry([new ShellExecutor()]), capacity: 2 });
}

t.test('a result is applied, then acknowledged; the agent forgets it only then', async (t) => {
  const w = new World();
  t.teardown(() => w.host.close());
  const a = agent('a1');
  const link = new LocalAgentLink(a, w.host, () => {});
  link.connect();
  const [e] = w.fire(spec('j', 'echo hello'), ['a1']);
  const { done, output } = w.run(e!);
  const outcome = await done;
  t.same(outcome, { success: true, exitCode: 0, error: '' });
  t.equal(output.text(), 'hello\n');
  await until('the ack', async () => (a.load.unacked === 0 ? true : undefined));
  t.equal(w.state.execution(e!.id)?.state, 'succeeded');
});

t.test('a stream to the old leader that ends after the own agent attached in-process does not detach the new link', async (t) => {
  const w = new World();
  t.teardown(() => w.host.close());
  const a = agent('a1');
  // The server's own agent was connected to a leader that is now paused: its stream is still up.
  const toPausedLeader = () => {};
  a.attach(toPausedLeader, 0);
  // This server leads: the own agent attaches in-process...
  const link = new LocalAgentLink(a, w.host, () => {});
  link.connect();
  await until('the in-process registration', async () => (w.host.status().some((s) => s.node === 'a1') ? true : undefined));
  // ...and only then does the stream to the paused leader end.
  a.detach(toPausedLeader);
  const [e] = w.fire(spec('j', 'echo hello'), ['a1']);
  const { done } = w.run(e!);
  t.same(await done, { success: true, exitCode: 0, error: '' }, 'the result reaches the new leader');
  await until('the ack', async () => (a.load.unacked === 0 ? true : undefined));
  t.equal(w.state.execution(e!.id)?.state, 'succeeded');
});

t.test('cut off: output and the result produced meanwhile arrive after the reconnect, once', async (t) => {
  const w = new World();
  t.teardown(() => w.host.close());
  const a = agent('a1');
  const link = new LocalAgentLink(a, w.host, () => {});
  link.connect();
  const [e] = w.fire(spec('j', 'echo before; sleep 0.3; echo after'), ['a1']);
  const { done, output } = w.run(e!);
  await until('the first output', async () => (output.text() === 'before\n' ? true : undefined));
  link.disconnect();
  await until('the run to end on the agent', async () => (a.load.running === 0 && a.load.unacked === 1 ? true : undefined));
  t.equal(output.text(), 'before\n', 'nothing arrives while cut off');
  link.connect();
  const outcome = await done;
  t.equal(outcome.success, true);
  t.equal(output.text(), 'before\nafter\n', 'the missed output, without repeating what arrived');
  await until('the ack', async () => (a.load.unacked === 0 ? true : undefined));
});

t.test('an agent that restarted does not know the execution: it is lost, never run again', async (t) => {
  const w = new World();
  t.teardown(() => w.host.close());
  const first = agent('a1');
  const link1 = new LocalAgentLink(first, w.host, () => {});
  link1.connect();
  const [e] = w.fire(spec('j', 'sleep 5'), ['a1']);
  const { done } = w.run(e!);
  await until('it to run', async () => (first.load.running === 1 ? true : undefined));
  link1.disconnect();
  await first.drain(0, 0); // the old process is gone (its run killed)
  const second = agent('a1');
  new LocalAgentLink(second, w.host, () => {}).connect();
  const outcome = await done;
  t.equal(outcome.lost, true);
  t.match(outcome.error, /does not know this execution \(it restarted/);
  t.equal(second.load.running, 0, 'the new instance did not start it');
  t.equal(w.state.execution(e!.id)?.state, 'lost');
});

t.test('an agent away past the deadline: its executions are lost', async (t) => {
  const w = new World(300);
  t.teardown(() => w.host.close());
  const a = agent('a1');
  const link = new LocalAgentLink(a, w.host, () => {});
  link.connect();
  const [e] = w.fire(spec('j', 'sleep 5'), ['a1']);
  const { done } = w.run(e!);
  await until('it to run', async () => (a.load.running === 1 ? true : undefined));
  link.disconnect();
  const outcome = await done;
  t.equal(outcome.lost, true);
  t.match(outcome.error, /agent a1 went away .* within 300 ms/);
  t.equal(a.load.running, 1, 'the agent, cut off, still runs it');
  link.connect();
  await until('the agent to stop what was settled without it, and forget it', async () => (a.load.running === 0 && a.load.unacked === 0 ? true : undefined));
  t.equal(w.state.execution(e!.id)?.state, 'lost', 'its late result changes nothing');
});

t.test('stop reaches the agent; a second agent with a taken name is refused; capacity queues', async (t) => {
  const w = new World();
  t.teardown(() => w.host.close());
  const a = agent('a1');
  new LocalAgentLink(a, w.host, () => {}).connect();
  const logs: string[] = [];
  new LocalAgentLink(agent('a1'), w.host, (l) => logs.push(l)).connect();
  t.match(logs.join('\n'), /node name a1 is taken by another connected agent/);
  const job = spec('j', 'sleep 5');
  const runs = [0, 1, 2].map(() => {
    const [e] = w.fire(job, ['a1']);
    const abort = new AbortController();
    return { e: e!, abort, ...w.run(e!, abort.signal) };
  });
  await until('two running, one queued', async () => (a.load.running === 2 && a.load.queued === 1 ? true : undefined));
  for (const r of runs) r.abort.abort();
  const outcomes = await Promise.all(runs.map((r) => r.done));
  t.ok(outcomes.every((o) => !o.success), 'all stopped');
  t.match(outcomes[2]?.error, /stopped on request/);
  t.same(w.host.status().map((s) => s.node), ['a1']);
});

t.test('a burst of fires chosen in one pass counts each choice as load: untagged fires fill the own agent, then go to others', async (t) => {
  const w = new World();
  t.teardown(() => w.host.close());
  new LocalAgentLink(agent('leader'), w.host, () => {}).connect();
  new LocalAgentLink(agent('other'), w.host, () => {}).connect();
  w.apply({ type: CommandType.PutJob, atMs: 1, job: spec('burst', 'true') });
  const untagged = w.state.job('burst');
  if (!untagged) throw new Error('no job');
  // Both agents have capacity 2: the own agent takes two, then the other (free) one, then either (both full).
  const pass = [0, 1, 2, 3, 4, 5].map(() => w.host.forFire(untagged)[0]);
  t.same(pass.slice(0, 4), ['leader', 'leader', 'other', 'other']);
  t.ok(pass.slice(4).every((n) => n === 'leader' || n === 'other'));
  // The next pass starts from the real loads again (nothing was assigned): the own agent first.
  await new Promise<void>((resolve) => setImmediate(resolve));
  t.equal(w.host.forFire(untagged)[0], 'leader');
});

t.test('a fire on two nodes is one group; its status waits for both', async (t) => {
  const w = new World();
  const es = w.fire(spec('g', 'true'), ['a1', 'a2']);
  t.equal(es.length, 2);
  t.equal(es[0]?.group, es[1]?.group);
  const finish = (id: string, state: 'succeeded' | 'failed') => w.apply({
    type: CommandType.FinishExecutions, atMs: 10, results: [{ id, finishedAtMs: 10, state, output: '', outputTruncated: false, exitCode: 0, error: '' }],
  });
  finish(es[0]!.id, 'succeeded');
  t.equal(w.state.job('g')?.status, '', 'not settled while one runs');
  finish(es[1]!.id, 'failed');
  t.equal(w.state.job('g')?.status, 'partially_failed');
  w.host.close();
});

t.test('registry: a live name is refused, a stale one replaced, a silent agent cut off at the deadline', async (t) => {
  let now = 1000;
  const reg = new AgentRegistry({ now: () => now, heartbeatTimeoutMs: 100 });
  const closed: string[] = [];
  const link = (name: string): AgentLink => ({ send: () => {}, close: (why) => closed.push(`${name}: ${why}`) });
  const register = (node: string, instance: string) => ({ node, instance, tags: { role: 'web' }, executors: ['shell'], capacity: 0, version: '', running: [], secret_keys: [], accepts_batches: false });
  const first = reg.register(register('a1', 'i1'), link('first'));
  if (!('session' in first)) throw new Error('refused');
  t.equal(first.session.capacity, 1, 'capacity at least 1');
  t.match(reg.register(register('a1', 'i2'), link('other')), { error: /node name a1 is taken by another connected agent/ });
  t.match(reg.register(register('', 'i3'), link('nameless')), { error: /names no node/ });
  const again = reg.register(register('a1', 'i1'), link('again'));
  t.ok('session' in again, 'the same agent reconnecting replaces its old stream');
  t.same(closed, ['first: replaced by a newer connection from the same agent']);
  t.notOk(reg.disconnect(first.session), 'the old stream ending later changes nothing');
  t.equal(reg.get('a1')?.instance, 'i1');
  now += 50;
  t.same(reg.sweep(), []);
  now += 100;
  const cut = reg.sweep();
  t.same(cut.map((s) => s.node), ['a1']);
  t.match(closed.at(-1), /again: no heartbeat for 100 ms/);
  now += 1;
  t.ok('session' in reg.register(register('a1', 'i9'), link('new')), 'a silent name is free for a new agent');
});

/** Messages as the wire carries them (encoded and decoded), so defaults are filled in. */
function wire() {
  const m = agentProto().clocktower.agent.v1.Agent.service.Connect;
  return {
    toServer: (x: AgentMessage) => m.requestDeserialize(m.requestSerialize(x)) as AgentMessage__Output,
    toAgent: (x: ServerMessage) => m.responseDeserialize(m.responseSerialize(x)) as ServerMessage__Output,
  };
}

t.test('batches: what one turn assigns or acknowledges is one message to an agent that accepts batches; heartbeats never wait', async (t) => {
  let deferred: (() => void)[] = [];
  const turn = () => { const fns = deferred; deferred = []; for (const fn of fns) fn(); };
  const w = new World(60_000, { outbox: { defer: (fn) => { deferred.push(fn); } } });
  t.teardown(() => w.host.close());
  const { toServer, toAgent } = wire();
  const got: ServerMessage__Output[] = [];
  const reg = (node: string, batches: boolean) => toServer({ register: { node, instance: `${node}-i`, executors: ['shell'], capacity: 10, accepts_batches: batches } }).register;
  const r = w.host.register(reg('b1', true)!, { send: (m) => got.push(toAgent(m)), close: () => {} });
  if (!('session' in r)) throw new Error('refused');
  t.match(got.shift(), { msg: 'registered', registered: { accepts_batches: true } }, 'the server says it accepts batches');

  const runs = [1, 2, 3, 4, 5].map((i) => w.run(w.fire(spec(`j${i}`, 'true'), ['b1'])[0]!));
  t.same(got, [], 'nothing sent while the turn runs');
  w.host.receive(r.session, toServer({ heartbeat: { running: 0, queued: 0 } }));
  t.match(got.shift(), { msg: 'heartbeat' }, 'a heartbeat is answered at once, before the waiting batch');
  turn();
  t.equal(got.length, 1, 'one message');
  const batch = got.shift();
  t.equal(batch?.msg, 'batch');
  const ids = batch?.batch?.assigns.map((a) => a.execution_id) ?? [];
  t.equal(ids.length, 5, 'carrying the five assignments');

  // The agent's results in one AgentBatch, with output before each result.
  w.host.receive(r.session, toServer({
    batch: {
      outputs: ids.map((id) => ({ execution_id: id, data: Buffer.from(`out ${id}\n`) })),
      results: ids.map((id) => ({ execution_id: id, success: true, exit_code: 0, finished_at_ms: Date.now() })),
    },
  }));
  for (const run of runs) t.same(await run.done, { success: true, exitCode: 0, error: '' });
  t.same(runs.map((run) => run.output.text()), ids.map((id) => `out ${id}\n`), 'each output reached its execution');
  t.same(got, [], 'acks wait for the turn');
  turn();
  t.equal(got.length, 1, 'the five acks in one message');
  t.same(got[0]?.batch?.acks.map((a) => a.execution_id).sort(), [...ids].sort());
  const status = w.host.status().find((s) => s.node === 'b1');
  t.equal(status?.batches, true);
  t.match(status?.stream, { messagesOut: 4, itemsOut: 10, messagesIn: 2, itemsIn: 10 }, 'registered, heartbeat, two batches out; heartbeat and one batch in');

  // The same result again (a resend after a reconnect) is acknowledged, not applied twice.
  got.length = 0;
  w.host.receive(r.session, toServer({ batch: { outputs: [], results: ids.slice(0, 2).map((id) => ({ execution_id: id, success: false, exit_code: 1, finished_at_ms: Date.now() })) } }));
  turn();
  t.same(got[0]?.batch?.acks.map((a) => a.execution_id).sort(), ids.slice(0, 2).sort(), 'a settled result is acknowledged again');
  t.same(ids.map((id) => w.state.execution(id)?.state), ids.map(() => 'succeeded'), 'and changes nothing');
});

t.test('batches: an agent that does not accept them gets one message per assignment and ack', async (t) => {
  let deferred: (() => void)[] = [];
  const turn = () => { const fns = deferred; deferred = []; for (const fn of fns) fn(); };
  const w = new World(60_000, { outbox: { defer: (fn) => { deferred.push(fn); } } });
  t.teardown(() => w.host.close());
  const { toServer, toAgent } = wire();
  const got: ServerMessage__Output[] = [];
  const reg = toServer({ register: { node: 'old', instance: 'old-i', executors: ['shell'], capacity: 10 } }).register;
  const r = w.host.register(reg!, { send: (m) => got.push(toAgent(m)), close: () => {} });
  if (!('session' in r)) throw new Error('refused');
  got.shift();
  const runs = [1, 2, 3].map((i) => w.run(w.fire(spec(`o${i}`, 'true'), ['old'])[0]!));
  turn();
  t.same(got.map((m) => m.msg), ['assign', 'assign', 'assign'], 'single assigns, sent at once');
  for (const m of got.splice(0)) w.host.receive(r.session, toServer({ result: { execution_id: m.assign?.execution_id ?? '', success: true, exit_code: 0, finished_at_ms: Date.now() } }));
  for (const run of runs) await run.done;
  turn();
  t.same(got.map((m) => m.msg), ['ack', 'ack', 'ack'], 'single acks');
  t.equal(w.host.status().find((s) => s.node === 'old')?.batches, false);
});

t.test('batches: a server that does not batch tells the agent so', async (t) => {
  const w = new World(60_000, { batches: false });
  t.teardown(() => w.host.close());
  const { toServer, toAgent } = wire();
  const got: ServerMessage__Output[] = [];
  const r = w.host.register(toServer({ register: { node: 'n', instance: 'i', executors: ['shell'], capacity: 1, accepts_batches: true } }).register!, { send: (m) => got.push(toAgent(m)), close: () => {} });
  t.ok('session' in r);
  t.match(got[0], { msg: 'registered', registered: { accepts_batches: false } });
  const run = w.run(w.fire(spec('s', 'true'), ['n'])[0]!);
  t.equal(got[1]?.msg, 'assign', 'a single assign, at once');
  w.host.receive((r as { session: Parameters<AgentExecutorHost['receive']>[0] }).session, toServer({ result: { execution_id: got[1]?.assign?.execution_id ?? '', success: true, exit_code: 0 } }));
  await run.done;
  t.equal(w.host.status()[0]?.batches, false);
});

t.test('batches: the agent runner takes a ServerBatch as its items in order (assign, then stop)', async (t) => {
  const a = new AgentRunner({ node: 'r', tags: {}, executors: new ExecutorRegistry([new ShellExecutor()]), capacity: 4 });
  const sent: AgentMessage[] = [];
  a.attach((m) => { sent.push(m); }, 0);
  const { toAgent } = wire();
  const assign = (id: string) => ({ execution_id: id, job_name: 'j', executor: 'shell', config: { command: 'sleep 5', shell: 'true' } });
  a.handle(toAgent({ batch: { assigns: [assign('x1'), assign('x2')], stops: [{ execution_id: 'x2' }] } }));
  await until('x2 stopped', async () => (sent.some((m) => m.result?.execution_id === 'x2') ? true : undefined));
  t.match(sent.find((m) => m.result?.execution_id === 'x2')?.result, { stopped: true }, 'the stop after its assign in the same batch stops it');
  t.equal(a.load.running, 1, 'x1 runs');
  a.handle(toAgent({ batch: { stops: [{ execution_id: 'x1' }], acks: [{ execution_id: 'x2' }] } }));
  await until('x1 stopped', async () => (sent.some((m) => m.result?.execution_id === 'x1') ? true : undefined));
  t.equal(a.load.unacked, 1, 'x2 acknowledged, x1 not yet');
});

t.test('a result whose output tail starts past what arrived live: the missing part is a gap, the output is truncated', async (t) => {
  const w = new World();
  t.teardown(() => w.host.close());
  const { toServer, toAgent } = wire();
  const got: ServerMessage__Output[] = [];
  const r = w.host.register(toServer({ register: { node: 'g', instance: 'g-i', executors: ['shell'], capacity: 1, accepts_batches: true } }).register!, { send: (m) => got.push(toAgent(m)), close: () => {} });
  if (!('session' in r)) throw new Error('refused');
  const run = w.run(w.fire(spec('gap', 'true'), ['g'])[0]!);
  await until('the assignment', async () => got.find((m) => m.msg === 'assign'));
  const id = got.find((m) => m.msg === 'assign')?.assign?.execution_id ?? '';
  w.host.receive(r.session, toServer({ output: { execution_id: id, data: Buffer.from('abc') } }));
  // 10 bytes in all; the agent kept only the last 4 ("ghij"): "def" never arrived.
  w.host.receive(r.session, toServer({ result: { execution_id: id, success: true, exit_code: 0, output_tail: Buffer.from('ghij'), output_total_bytes: 10 } }));
  const outcome = await run.done;
  t.equal(outcome.outputGap, true);
  t.equal(run.output.text(), 'abcghij');
});
