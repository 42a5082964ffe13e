// Original file: proto/agent.proto

import type { Register as _clocktower_agent_v1_Register, Register__Output as _clocktower_agent_v1_Register__Output } from '../../../clocktower/agent/v1/Register.js';
import type { Heartbeat as _clocktower_agent_v1_Heartbeat, Heartbeat__Output as _clocktower_agent_v1_Heartbeat__Output } from '../../../clocktower/agent/v1/Heartbeat.js';
import type { Output as _clocktower_agent_v1_Output, Output__Output as _clocktower_agent_v1_Output__Output } from '../../../clocktower/agent/v1/Output.js';
import type { Result as _clocktower_agent_v1_Result, Result__Output as _clocktower_agent_v1_Result__Output } from '../../../clocktower/agent/v1/Result.js';
import type { Leave as _clocktower_agent_v1_Leave, Leave__Output as _clocktower_agent_v1_Leave__Output } from '../../../clocktower/agent/v1/Leave.js';
import type { AgentBatch as _clocktower_agent_v1_AgentBatch, AgentBatch__Output as _clocktower_agent_v1_AgentBatch__Output } from '../../../clocktower/agent/v1/AgentBatch.js';

export interface AgentMessage {
  'register'?: (_clocktower_agent_v1_Register | null);
  'heartbeat'?: (_clocktower_agent_v1_Heartbeat | null);
  'output'?: (_clocktower_agent_v1_Output | null);
  'result'?: (_clocktower_agent_v1_Result | null);
  'leave'?: (_clocktower_agent_v1_Leave | null);
  'batch'?: (_clocktower_agent_v1_AgentBatch | null);
  'msg'?: "register"|"heartbeat"|"output"|"result"|"leave"|"batch";
}

export interface AgentMessage__Output {
  'register'?: (_clocktower_agent_v1_Register__Output | null);
  'heartbeat'?: (_clocktower_agent_v1_Heartbeat__Output | null);
  'output'?: (_clocktower_agent_v1_Output__Output | null);
  'result'?: (_clocktower_agent_v1_Result__Output | null);
  'leave'?: (_clocktower_agent_v1_Leave__Output | null);
  'batch'?: (_clocktower_agent_v1_AgentBatch__Output | null);
  'msg'?: "register"|"heartbeat"|"output"|"result"|"leave"|"batch";
}
