// A server's own agent, attached to the leader in the same process: the
// same messages as over gRPC (each one encoded and decoded exactly as the
// wire would, so both ends see what they would see from a remote peer),
// delivered in order without a network hop. Used while this server leads;
// while it follows, its agent dials the leader like any other agent.

import { agentProto } from '../proto/load-proto.js';
import type { AgentMessage, AgentMessage__Output } from '../proto/generated/clocktower/agent/v1/AgentMessage.js';
import type { ServerMessage, ServerMessage__Output } from '../proto/generated/clocktower/agent/v1/ServerMessage.js';
import type { AgentRunner } from '../agent/agent-runner.js';
import type { AgentExecutorHost } from '../server/dispatch/agent-executor-host.js';
import type { AgentSession } from '../server/dispatch/agent-registry.js';

export class LocalAgentLink {
  private session: AgentSession | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private attached: ((m: AgentMessage) => void) | null = null;

  constructor(private readonly runner: AgentRunner, private readonly host: AgentExecutorHost, private readonly log: (line: string) => void) {}

  connect(): void {
    if (this.session) return;
    const method = agentProto().clocktower.agent.v1.Agent.service.Connect;
    const toServer = (m: AgentMessage) => method.requestDeserialize(method.requestSerialize(m)) as AgentMessage__Output;
    const toAgent = (m: ServerMessage) => method.responseDeserialize(method.responseSerialize(m)) as ServerMessage__Output;
    let session: AgentSession | null = null;
    const live = () => session !== null && this.session === session;
    const sendToServer = (m: AgentMessage) => {
      const decoded = toServer(m);
      queueMicrotask(() => { if (live() && session) this.host.receive(session, decoded); });
    };
    const registration = toServer({ register: this.runner.registration() }).register;
    if (!registration) return;
    const r = this.host.register(registration, {
      transport: 'local',
      send: (m) => {
        const decoded = toAgent(m);
        queueMicrotask(() => {
          if (!live()) return;
          if (decoded.msg === 'registered' && decoded.registered) {
            this.attached = sendToServer;
            this.runner.attach(sendToServer, decoded.registered.output_limit);
            const every = Math.max(20, decoded.registered.heartbeat_ms);
            this.heartbeat = setInterval(() => {
              const load = this.runner.load;
              sendToServer({ heartbeat: { running: load.running, queued: load.queued } });
            }, every);
            this.heartbeat.unref();
          } else if (decoded.msg !== 'heartbeat') {
            this.runner.handle(decoded);
          }
        });
      },
      close: (reason) => {
        this.log(`agents: own agent detached: ${reason}`);
        this.disconnect();
      },
    });
    if ('error' in r) {
      this.log(`agents: own agent could not attach: ${r.error}`);
      return;
    }
    session = r.session;
    this.session = session;
  }

  /** Tell the leader this agent leaves: it is assigned nothing more. */
  leave(): void {
    const s = this.session;
    if (s) this.host.receive(s, { msg: 'leave', leave: {} });
  }

  disconnect(): void {
    const s = this.session;
    if (!s) return;
    this.session = null;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    if (this.attached) this.runner.detach(this.attached);
    this.attached = null;
    this.host.disconnect(s);
  }
}
