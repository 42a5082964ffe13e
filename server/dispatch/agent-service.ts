// The Agent gRPC service (proto/agent.proto) on every server's --rpc-addr.
// The first message must be a Register. A server that is not the leader
// answers it with a Redirect to the leader and ends the stream; the leader
// hands the stream to the agent sessions (the AgentExecutorHost's).

import type * as grpc from '@grpc/grpc-js';
import type { AgentHandlers } from '../../proto/generated/clocktower/agent/v1/Agent.js';
import type { AgentMessage__Output } from '../../proto/generated/clocktower/agent/v1/AgentMessage.js';
import type { ServerMessage } from '../../proto/generated/clocktower/agent/v1/ServerMessage.js';
import type { AgentLink, AgentSession } from './agent-registry.js';
import type { SessionHost } from './agent-sessions.js';

export interface AgentServiceOptions {
  /** The host while this server leads; null otherwise. */
  host(): SessionHost | null;
  /** The leader's RPC address ("" when there is none). */
  leaderRpcAddr(): string;
  readonly log?: (line: string) => void;
}

export function agentServiceHandlers(options: AgentServiceOptions): AgentHandlers {
  return {
    Connect(call: grpc.ServerDuplexStream<AgentMessage__Output, ServerMessage>) {
      let session: AgentSession | null = null;
      let host: SessionHost | null = null;
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        call.end();
      };
      const link: AgentLink = {
        send: (m) => { if (!ended) call.write(m); },
        close: (reason) => {
          options.log?.(`agents: closing the stream of ${session?.node ?? 'an agent'}: ${reason}`);
          end();
        },
      };
      const gone = () => {
        if (session && host) host.disconnect(session);
        session = null;
        end();
      };
      call.on('data', (m: AgentMessage__Output) => {
        if (ended) return;
        if (session && host) {
          host.receive(session, m);
          return;
        }
        if (m.msg !== 'register' || !m.register) {
          call.write({ refused: { error: 'the first message on an agent stream must be a Register' } });
          end();
          return;
        }
        host = options.host();
        if (!host) {
          call.write({ redirect: { leader_rpc_addr: options.leaderRpcAddr() } });
          end();
          return;
        }
        const r = host.register(m.register, link);
        if ('error' in r) {
          call.write({ refused: { error: r.error } });
          end();
          return;
        }
        session = r.session;
      });
      call.on('end', gone);
      call.on('error', gone);
      call.on('cancelled', gone);
      call.on('close', gone);
    },
  };
}
