// The agent sessions on their own, over a transport that records what it is
// given (an AgentLink) and fake timers and clock: registration answered,
// heartbeats answered once through the session's outbox, the stream's
// counters in one place, a silent agent cut off by the sweep when the fake
// time passes its deadline, and how each ending is told to the executions.
import t from 'tap';
import type { ServerMessage } from '../../../proto/generated/clocktower/agent/v1/ServerMessage.js';
import type { Register__Output } from '../../../proto/generated/clocktower/agent/v1/Register.js';
import type { AgentLink, AgentSession } from '../../../server/dispatch/agent-registry.js';
import { AgentSessions, type DisconnectReason, type SessionEvents } from '../../../server/dispatch/agent-sessions.js';
import { FakeHostTimers } from '../../support/fake-host-timers.js';

class RecordingLink implements AgentLink {
  readonly sent: ServerMessage[] = [];
  closed: string | null = null;
  send(m: ServerMessage): void {
    this.sent.push(m);
  }
  close(reason: string): void {
    this.closed = reason;
  }
}

class RecordingEvents implements SessionEvents {
  readonly seen: string[] = [];
  connected(s: AgentSession, running: readonly string[]): void {
    this.seen.push(`connected ${s.node} [${running.join(',')}]`);
  }
  output(s: AgentSession, o: { execution_id: string }): void {
    this.seen.push(`output ${s.node} ${o.execution_id}`);
  }
  result(s: AgentSession, r: { execution_id: string }): void {
    this.seen.push(`result ${s.node} ${r.execution_id}`);
  }
  disconnected(s: AgentSession, why: DisconnectReason): void {
    this.seen.push(`disconnected ${s.node} ${why}`);
  }
}

function registration(node: string, over: Partial<Register__Output> = {}): Register__Output {
  return {
    node, instance: `${node}-1`, tags: {}, executors: ['shell'], capacity: 2, version: 'test', running: [], accepts_batches: false, secret_keys: [],
    ...over,
  } as Register__Output;
}

function world(deadlineMs = 400) {
  const timers = new FakeHostTimers();
  const events = new RecordingEvents();
  const sessions = new AgentSessions({
    now: () => timers.nowMs, selfNode: 'leader', heartbeatTimeoutMs: deadlineMs, outputLimit: 1000, servers: () => ['127.0.0.1:1'], timers,
  }, events);
  return { timers, events, sessions };
}

function registered(sessions: AgentSessions, link: AgentLink, reg: Register__Output): AgentSession {
  const r = sessions.register(reg, link);
  if ('error' in r) throw new Error(r.error);
  return r.session;
}

t.test('register is answered and told with what the agent still runs; heartbeats are answered once and counted in one place', async (t) => {
  const { sessions, events } = world();
  t.teardown(() => sessions.close());
  const link = new RecordingLink();
  const s = registered(sessions, link, registration('a1', { running: ['e1'] }));
  t.match(link.sent[0], { registered: { server: 'leader', heartbeat_ms: 133, servers: ['127.0.0.1:1'], output_limit: 1000, accepts_batches: true } });
  t.same(events.seen, ['connected a1 [e1]']);
  sessions.receive(s, { msg: 'heartbeat', heartbeat: { running: 1, queued: 3 } });
  t.same(link.sent.slice(1), [{ heartbeat: {} }], 'one answer');
  sessions.receive(s, { msg: 'output', output: { execution_id: 'e1', data: Buffer.from('x') } });
  sessions.receive(s, { msg: 'batch', batch: { outputs: [{ execution_id: 'e1', data: Buffer.from('y') }], results: [{ execution_id: 'e1' } as never] } });
  t.same(events.seen.slice(1), ['output a1 e1', 'output a1 e1', 'result a1 e1'], 'a batch: outputs, then results');
  sessions.assign(s, { execution_id: 'e2' });
  const [status] = sessions.status(() => 7);
  t.match(status, { node: 'a1', running: 1, queued: 3, assigned: 7, transport: 'grpc', batches: false });
  t.same(status?.stream, { messagesOut: 3, itemsOut: 1, messagesIn: 3, itemsIn: 3 }, 'registered, heartbeat answer, one assignment out; heartbeat, output, batch of two in');
});

t.test('a silent agent is cut off when the fake time passes its deadline; one that talks is not', async (t) => {
  const { sessions, events, timers } = world(400);
  t.teardown(() => sessions.close());
  const quiet = new RecordingLink();
  const talky = new RecordingLink();
  registered(sessions, quiet, registration('quiet'));
  const s = registered(sessions, talky, registration('talky'));
  for (let i = 0; i < 5; i++) {
    timers.advance(100);
    sessions.receive(s, { msg: 'heartbeat', heartbeat: { running: 0, queued: 0 } });
  }
  t.equal(quiet.closed, 'no heartbeat for 400 ms');
  t.equal(talky.closed, null);
  t.same(events.seen.filter((e) => e.startsWith('disconnected')), ['disconnected quiet silent']);
  t.same(sessions.all().map((x) => x.node), ['talky']);
});

t.test('endings: left, away, replaced (not told), released (not told, redirected)', async (t) => {
  const { sessions, events } = world();
  t.teardown(() => sessions.close());
  const l1 = new RecordingLink();
  const s1 = registered(sessions, l1, registration('a1'));
  sessions.receive(s1, { msg: 'leave', leave: {} });
  sessions.disconnect(s1);
  const s2 = registered(sessions, new RecordingLink(), registration('a2'));
  sessions.disconnect(s2);
  sessions.receive(s2, { msg: 'result', result: { execution_id: 'late' } as never });
  const old = new RecordingLink();
  const s3 = registered(sessions, old, registration('a3', { instance: 'x' }));
  // The same instance again (its old stream not ended yet): the old session is replaced.
  registered(sessions, new RecordingLink(), registration('a3', { instance: 'x' }));
  t.equal(old.closed, 'replaced by a newer connection from the same agent');
  sessions.disconnect(s3);
  const l4 = new RecordingLink();
  registered(sessions, l4, registration('a4'));
  sessions.release('10.0.0.9:7000');
  t.same(events.seen.filter((e) => !e.startsWith('connected')), ['disconnected a1 left', 'disconnected a2 away'], 'nothing from a closed session; the replaced one and the released one are not told');
  t.same(l4.sent.at(-1), { redirect: { leader_rpc_addr: '10.0.0.9:7000' } });
  t.equal(l4.closed, 'this server no longer leads');
  t.same(sessions.all(), []);
});
