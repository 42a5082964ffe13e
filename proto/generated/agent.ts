import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AgentClient as _clocktower_agent_v1_AgentClient, AgentDefinition as _clocktower_agent_v1_AgentDefinition } from './clocktower/agent/v1/Agent.js';
import type { AgentBatch as _clocktower_agent_v1_AgentBatch, AgentBatch__Output as _clocktower_agent_v1_AgentBatch__Output } from './clocktower/agent/v1/AgentBatch.js';
import type { AgentMessage as _clocktower_agent_v1_AgentMessage, AgentMessage__Output as _clocktower_agent_v1_AgentMessage__Output } from './clocktower/agent/v1/AgentMessage.js';
import type { Assign as _clocktower_agent_v1_Assign, Assign__Output as _clocktower_agent_v1_Assign__Output } from './clocktower/agent/v1/Assign.js';
import type { ExecutorSecretKeys as _clocktower_agent_v1_ExecutorSecretKeys, ExecutorSecretKeys__Output as _clocktower_agent_v1_ExecutorSecretKeys__Output } from './clocktower/agent/v1/ExecutorSecretKeys.js';
import type { Heartbeat as _clocktower_agent_v1_Heartbeat, Heartbeat__Output as _clocktower_agent_v1_Heartbeat__Output } from './clocktower/agent/v1/Heartbeat.js';
import type { Leave as _clocktower_agent_v1_Leave, Leave__Output as _clocktower_agent_v1_Leave__Output } from './clocktower/agent/v1/Leave.js';
import type { Output as _clocktower_agent_v1_Output, Output__Output as _clocktower_agent_v1_Output__Output } from './clocktower/agent/v1/Output.js';
import type { Redirect as _clocktower_agent_v1_Redirect, Redirect__Output as _clocktower_agent_v1_Redirect__Output } from './clocktower/agent/v1/Redirect.js';
import type { Refused as _clocktower_agent_v1_Refused, Refused__Output as _clocktower_agent_v1_Refused__Output } from './clocktower/agent/v1/Refused.js';
import type { Register as _clocktower_agent_v1_Register, Register__Output as _clocktower_agent_v1_Register__Output } from './clocktower/agent/v1/Register.js';
import type { Registered as _clocktower_agent_v1_Registered, Registered__Output as _clocktower_agent_v1_Registered__Output } from './clocktower/agent/v1/Registered.js';
import type { Result as _clocktower_agent_v1_Result, Result__Output as _clocktower_agent_v1_Result__Output } from './clocktower/agent/v1/Result.js';
import type { ResultAck as _clocktower_agent_v1_ResultAck, ResultAck__Output as _clocktower_agent_v1_ResultAck__Output } from './clocktower/agent/v1/ResultAck.js';
import type { ServerBatch as _clocktower_agent_v1_ServerBatch, ServerBatch__Output as _clocktower_agent_v1_ServerBatch__Output } from './clocktower/agent/v1/ServerBatch.js';
import type { ServerMessage as _clocktower_agent_v1_ServerMessage, ServerMessage__Output as _clocktower_agent_v1_ServerMessage__Output } from './clocktower/agent/v1/ServerMessage.js';
import type { Stop as _clocktower_agent_v1_Stop, Stop__Output as _clocktower_agent_v1_Stop__Output } from './clocktower/agent/v1/Stop.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  clocktower: {
    agent: {
      v1: {
        Agent: SubtypeConstructor<typeof grpc.Client, _clocktower_agent_v1_AgentClient> & { service: _clocktower_agent_v1_AgentDefinition }
        AgentBatch: MessageTypeDefinition<_clocktower_agent_v1_AgentBatch, _clocktower_agent_v1_AgentBatch__Output>
        AgentMessage: MessageTypeDefinition<_clocktower_agent_v1_AgentMessage, _clocktower_agent_v1_AgentMessage__Output>
        Assign: MessageTypeDefinition<_clocktower_agent_v1_Assign, _clocktower_agent_v1_Assign__Output>
        ExecutorSecretKeys: MessageTypeDefinition<_clocktower_agent_v1_ExecutorSecretKeys, _clocktower_agent_v1_ExecutorSecretKeys__Output>
        Heartbeat: MessageTypeDefinition<_clocktower_agent_v1_Heartbeat, _clocktower_agent_v1_Heartbeat__Output>
        Leave: MessageTypeDefinition<_clocktower_agent_v1_Leave, _clocktower_agent_v1_Leave__Output>
        Output: MessageTypeDefinition<_clocktower_agent_v1_Output, _clocktower_agent_v1_Output__Output>
        Redirect: MessageTypeDefinition<_clocktower_agent_v1_Redirect, _clocktower_agent_v1_Redirect__Output>
        Refused: MessageTypeDefinition<_clocktower_agent_v1_Refused, _clocktower_agent_v1_Refused__Output>
        Register: MessageTypeDefinition<_clocktower_agent_v1_Register, _clocktower_agent_v1_Register__Output>
        Registered: MessageTypeDefinition<_clocktower_agent_v1_Registered, _clocktower_agent_v1_Registered__Output>
        Result: MessageTypeDefinition<_clocktower_agent_v1_Result, _clocktower_agent_v1_Result__Output>
        ResultAck: MessageTypeDefinition<_clocktower_agent_v1_ResultAck, _clocktower_agent_v1_ResultAck__Output>
        ServerBatch: MessageTypeDefinition<_clocktower_agent_v1_ServerBatch, _clocktower_agent_v1_ServerBatch__Output>
        ServerMessage: MessageTypeDefinition<_clocktower_agent_v1_ServerMessage, _clocktower_agent_v1_ServerMessage__Output>
        Stop: MessageTypeDefinition<_clocktower_agent_v1_Stop, _clocktower_agent_v1_Stop__Output>
      }
    }
  }
}

