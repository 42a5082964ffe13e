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
import { AgentExecutorHost } from '../../../server/dispatch/agent-executor-host.js';
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
  constructor(timeoutMs = 60_000) {
    this.host = new AgentExecutorHost({
      state: this.state, now: Date.now, selfNode: 'leader', heartbeatTimeoutMs: timeoutMs, outputLimit: 1000, servers: () => [],
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
