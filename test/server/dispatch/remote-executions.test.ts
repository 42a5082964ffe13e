// The remote executions on their own: a real state machine, fake timers
// (time moves only when the test says so), and a wire that records what
// would go to each agent. Lost deadlines fire when the fake time passes them
// and not before; a reconnect or a result clears them; a result is
// acknowledged once, after it applied; an agent connected holds no timer.
import t from 'tap';
import { CommandType, type Command } from '../../../server/state/commands.js';
import { StateMachine, type ApplyResult } from '../../../server/state/state-machine.js';
import type { Execution } from '../../../server/state/execution.js';
import type { Assign } from '../../../proto/generated/clocktower/agent/v1/Assign.js';
import type { Result__Output } from '../../../proto/generated/clocktower/agent/v1/Result.js';
import type { AgentSession } from '../../../server/dispatch/agent-registry.js';
import type { AgentWire } from '../../../server/dispatch/agent-sessions.js';
import { RemoteExecutions } from '../../../server/dispatch/remote-executions.js';
import type { RunOutcome } from '../../../server/dispatch/executor-host.js';
import { OutputTail } from '../../../server/dispatch/output-tail.js';
import { jobSpec } from '../../support/job-spec.js';
import { FakeHostTimers } from '../../support/fake-host-timers.js';

/** What would go to the agents, by node. */
class RecordingWire implements AgentWire {
  readonly connected = new Map<string, AgentSession>();
  readonly sent: { node: string; kind: 'assign' | 'stop' | 'ack'; id: string; assign?: Assign }[] = [];
  session(node: string): AgentSession | undefined {
    return this.connected.get(node);
  }
  assign(s: AgentSession, a: Assign): void {
    this.sent.push({ node: s.node, kind: 'assign', id: a.execution_id ?? '', assign: a });
  }
  stop(s: AgentSession, id: string): void {
    this.sent.push({ node: s.node, kind: 'stop', id });
  }
  ack(s: AgentSession, id: string): void {
    this.sent.push({ node: s.node, kind: 'ack', id });
  }
  /** An agent (re)connects as instance `instance`. */
  connect(node: string, instance = 'i1'): AgentSession {
    const s: AgentSession = {
      node, instance, tags: {}, executors: ['shell'], capacity: 4, version: '', link: { send: () => {}, close: () => {} },
      connectedAtMs: 0, lastSeenMs: 0, leaving: false, connected: true, running: 0, queued: 0,
    };
    this.connected.set(node, s);
    return s;
  }
  drop(node: string): AgentSession {
    const s = this.connected.get(node);
    if (!s) throw new Error(`${node} is not connected`);
    s.connected = false;
    this.connected.delete(node);
    return s;
  }
  of(kind: 'assign' | 'stop' | 'ack', id: string): number {
    return this.sent.filter((m) => m.kind === kind && m.id === id).length;
  }
}

class World {
  readonly state = new StateMachine({ historyLimit: 100 });
  readonly timers = new FakeHostTimers();
  readonly wire = new RecordingWire();
  readonly host: RemoteExecutions;
  private index = 0;
  constructor(readonly deadlineMs = 1000) {
    this.host = new RemoteExecutions({ state: this.state, agents: this.wire, heartbeatTimeoutMs: deadlineMs, timers: this.timers });
  }
  apply(c: Command): Extract<ApplyResult, { ok: true }> {
    const r = this.state.apply(c, ++this.index);
    if (!r.ok) throw r.error;
    return r;
  }
  fire(node: string, job = 'j'): Execution {
    if (!this.state.job(job)) this.apply({ type: CommandType.PutJob, atMs: 1, job: jobSpec(job) });
    const [e] = this.apply({ type: CommandType.RecordFires, atMs: 10, fires: [{ jobName: job, scheduledAtMs: 10, trigger: 'manual', nodes: [node] }], skips: [], lastScheduled: [] }).executions;
    if (!e) throw new Error('no execution');
    return e;
  }
  /** Run it through the host; `settled` is the outcome once it has one (read it after a turn). */
  run(e: Execution, signal = new AbortController().signal): { output: OutputTail; outcome: () => RunOutcome | null; done: Promise<RunOutcome> } {
    const output = new OutputTail(1000);
    let settled: RunOutcome | null = null;
    const done = this.host.execute(e.nodeName, 'shell', { jobName: e.jobName, config: {}, executionId: e.id, scheduledAtMs: e.scheduledAtMs, attempt: e.attempt }, output, signal)
      .then((o) => (settled = o));
    return { output, outcome: () => settled, done };
  }
  /** What the ExecutionRunner does with the outcome: commit it. */
  commit(e: Execution, o: RunOutcome): void {
    this.apply({
      type: CommandType.FinishExecutions, atMs: 20,
      results: [{ id: e.id, finishedAtMs: 20, state: o.success ? 'succeeded' : o.lost ? 'lost' : 'failed', output: '', outputTruncated: false, exitCode: o.exitCode, error: o.error }],
    });
  }
}

function result(id: string, over: Partial<Result__Output> = {}): Result__Output {
  return {
    execution_id: id, success: true, exit_code: 0, error: '', output_tail: Buffer.alloc(0), output_total_bytes: '0', unknown: false, params_out: {},
    ...over,
  } as Result__Output;
}

/** Let settled promises run their callbacks. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

t.test('not connected: lost when the fake time passes the deadline, not a moment before', async (t) => {
  const w = new World(1000);
  t.teardown(() => w.host.close());
  const e = w.fire('a1');
  const run = w.run(e);
  t.equal(w.timers.armed, 1, 'one deadline');
  t.equal(w.host.loadOf('a1'), 1);
  w.timers.advance(999);
  await turn();
  t.equal(run.outcome(), null, 'still waiting at 999 ms');
  w.timers.advance(1);
  const o = await run.done;
  t.equal(o.lost, true);
  t.match(o.error, /agent a1 is not connected and did not connect within 1000 ms/);
  t.equal(w.host.loadOf('a1'), 0, 'no longer counted as load');
  t.equal(w.timers.armed, 0);
  t.equal(w.wire.sent.length, 0, 'nothing was sent');
});

t.test('connected: assigned at once, no timer; away: lost at the deadline unless it comes back', async (t) => {
  const w = new World(1000);
  t.teardown(() => w.host.close());
  const s = w.wire.connect('a1');
  const e1 = w.fire('a1');
  const e2 = w.fire('a1');
  const r1 = w.run(e1);
  const r2 = w.run(e2);
  t.same(w.wire.sent.map((m) => [m.kind, m.id]), [['assign', e1.id], ['assign', e2.id]]);
  t.equal(w.timers.armed, 0, 'an execution on a connected agent holds no timer');
  t.equal(w.host.loadOf('a1'), 2);

  w.wire.drop('a1');
  w.host.disconnected(s, 'away');
  t.equal(w.timers.armed, 2, 'a deadline each');
  w.timers.advance(600);
  // The same instance comes back: the deadlines are cleared and both are assigned again (a reattach).
  const back = w.wire.connect('a1');
  w.host.connected(back, [e1.id, e2.id]);
  t.equal(w.timers.armed, 0, 'cleared by the reconnect');
  t.equal(w.wire.of('assign', e1.id), 2);
  t.equal(w.wire.sent.at(-1)?.assign?.resume_only, false, 'the same instance: a reattach, not resume-only');
  w.timers.advance(5000);
  await turn();
  t.equal(r1.outcome(), null, 'not lost after the deadline passed');

  // A result settles it; gone again, the other is lost at the deadline.
  w.host.result(back, result(e1.id));
  t.same(await r1.done, { success: true, exitCode: 0, error: '' });
  w.wire.drop('a1');
  w.host.disconnected(back, 'away');
  t.equal(w.timers.armed, 1, 'only the one still pending waits');
  w.timers.advance(1000);
  const o2 = await r2.done;
  t.equal(o2.lost, true);
  t.match(o2.error, /agent a1 went away while this execution ran and did not come back within 1000 ms/);
});

t.test('a result settles the execution and cancels its deadline', async (t) => {
  const w = new World(1000);
  t.teardown(() => w.host.close());
  const s = w.wire.connect('a1');
  const e = w.fire('a1');
  const run = w.run(e);
  w.wire.drop('a1');
  w.host.disconnected(s, 'away');
  t.equal(w.timers.armed, 1);
  // The result the transport still delivers from that session.
  w.host.result(s, result(e.id, { success: false, exit_code: 3, error: 'exit status 3' }));
  t.equal(w.timers.armed, 0, 'the deadline is cancelled');
  w.timers.advance(10_000);
  t.same(await run.done, { success: false, exitCode: 3, error: 'exit status 3' }, 'its outcome, not lost');
});

t.test('a new instance of the agent gets it resume-only; a reclaimed execution waits twice the deadline', async (t) => {
  const w = new World(1000);
  t.teardown(() => w.host.close());
  const s = w.wire.connect('a1', 'first');
  const e = w.fire('a1');
  void w.run(e);
  w.wire.drop('a1');
  w.host.disconnected(s, 'away');
  w.host.connected(w.wire.connect('a1', 'second'), []);
  t.equal(w.wire.sent.at(-1)?.assign?.resume_only, true, 'a restarted agent only reattaches');

  const reclaimed = w.fire('a2');
  w.host.resume(reclaimed.id);
  const run = w.run(reclaimed);
  w.timers.advance(1999);
  await turn();
  t.equal(run.outcome(), null);
  w.timers.advance(1);
  t.match((await run.done).error, /agent a2 is not connected and did not connect within 2000 ms/);
});

t.test('left or silent: lost at once, no deadline', async (t) => {
  const w = new World(1000);
  t.teardown(() => w.host.close());
  const a1 = w.wire.connect('a1');
  const a2 = w.wire.connect('a2');
  const r1 = w.run(w.fire('a1'));
  const r2 = w.run(w.fire('a2'));
  w.host.disconnected(w.wire.drop('a1') && a1, 'left');
  w.host.disconnected(w.wire.drop('a2') && a2, 'silent');
  t.match((await r1.done).error, /agent a1 left while this execution ran/);
  t.match((await r2.done).error, /agent a2 sent no heartbeat for 1000 ms/);
  t.equal(w.timers.armed, 0);
});

t.test('a result is acknowledged once, after it applied; a settled one the agent re-sends is acknowledged at once', async (t) => {
  const w = new World();
  t.teardown(() => w.host.close());
  const s = w.wire.connect('a1');
  const e = w.fire('a1');
  const run = w.run(e);
  w.host.result(s, result(e.id));
  w.host.result(s, result(e.id)); // a repeat before it applied: nothing waits for it any more, and it is not settled yet
  const o = await run.done;
  t.equal(w.wire.of('ack', e.id), 0, 'not before it applied');
  w.commit(e, o);
  t.equal(w.wire.of('ack', e.id), 1, 'acknowledged once it applied');
  w.commit(e, o); // applied twice: changes nothing
  w.commit(w.fire('a1', 'other'), { success: true, exitCode: 0, error: '' });
  t.equal(w.wire.of('ack', e.id), 1, 'once');
  // The agent missed the ack (cut off) and sends the result again: it is settled, so it may forget it.
  w.host.result(s, result(e.id));
  t.equal(w.wire.of('ack', e.id), 2, 'a second result, a second ack');
});

t.test('output arrives live; the result tail adds only what did not, and a gap is said', async (t) => {
  const w = new World();
  t.teardown(() => w.host.close());
  const s = w.wire.connect('a1');
  const e = w.fire('a1');
  const run = w.run(e);
  w.host.output(s, { execution_id: e.id, data: Buffer.from('ab') });
  w.host.output(w.wire.connect('other'), { execution_id: e.id, data: Buffer.from('zz') }); // another node's: ignored
  w.host.result(s, result(e.id, { output_tail: Buffer.from('fgh'), output_total_bytes: '8' }));
  const o = await run.done;
  t.equal(run.output.text(), 'abfgh');
  t.equal(o.outputGap, true, 'bytes 2..5 never arrived');
});

t.test('a stop request reaches the agent that has the assignment; release abandons what waits', async (t) => {
  const w = new World();
  t.teardown(() => w.host.close());
  w.wire.connect('a1');
  const e = w.fire('a1');
  const abort = new AbortController();
  const run = w.run(e, abort.signal);
  abort.abort();
  t.equal(w.wire.of('stop', e.id), 1);
  w.host.release();
  const o = await run.done;
  t.equal(o.abandoned, true);
  t.equal(w.host.loadOf('a1'), 0);
});
