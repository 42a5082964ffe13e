// Original file: proto/agent.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AgentMessage as _clocktower_agent_v1_AgentMessage, AgentMessage__Output as _clocktower_agent_v1_AgentMessage__Output } from '../../../clocktower/agent/v1/AgentMessage.js';
import type { ServerMessage as _clocktower_agent_v1_ServerMessage, ServerMessage__Output as _clocktower_agent_v1_ServerMessage__Output } from '../../../clocktower/agent/v1/ServerMessage.js';

export interface AgentClient extends grpc.Client {
  Connect(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_clocktower_agent_v1_AgentMessage, _clocktower_agent_v1_ServerMessage__Output>;
  Connect(options?: grpc.CallOptions): grpc.ClientDuplexStream<_clocktower_agent_v1_AgentMessage, _clocktower_agent_v1_ServerMessage__Output>;
  connect(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_clocktower_agent_v1_AgentMessage, _clocktower_agent_v1_ServerMessage__Output>;
  connect(options?: grpc.CallOptions): grpc.ClientDuplexStream<_clocktower_agent_v1_AgentMessage, _clocktower_agent_v1_ServerMessage__Output>;
  
}

export interface AgentHandlers extends grpc.UntypedServiceImplementation {
  Connect: grpc.handleBidiStreamingCall<_clocktower_agent_v1_AgentMessage__Output, _clocktower_agent_v1_ServerMessage>;
  
}

export interface AgentDefinition extends grpc.ServiceDefinition {
  Connect: MethodDefinition<_clocktower_agent_v1_AgentMessage, _clocktower_agent_v1_ServerMessage, _clocktower_agent_v1_AgentMessage__Output, _clocktower_agent_v1_ServerMessage__Output>
}
