// Original file: proto/agent.proto

import type { Redirect as _clocktower_agent_v1_Redirect, Redirect__Output as _clocktower_agent_v1_Redirect__Output } from '../../../clocktower/agent/v1/Redirect.js';
import type { Registered as _clocktower_agent_v1_Registered, Registered__Output as _clocktower_agent_v1_Registered__Output } from '../../../clocktower/agent/v1/Registered.js';
import type { Assign as _clocktower_agent_v1_Assign, Assign__Output as _clocktower_agent_v1_Assign__Output } from '../../../clocktower/agent/v1/Assign.js';
import type { Stop as _clocktower_agent_v1_Stop, Stop__Output as _clocktower_agent_v1_Stop__Output } from '../../../clocktower/agent/v1/Stop.js';
import type { ResultAck as _clocktower_agent_v1_ResultAck, ResultAck__Output as _clocktower_agent_v1_ResultAck__Output } from '../../../clocktower/agent/v1/ResultAck.js';
import type { Refused as _clocktower_agent_v1_Refused, Refused__Output as _clocktower_agent_v1_Refused__Output } from '../../../clocktower/agent/v1/Refused.js';
import type { Heartbeat as _clocktower_agent_v1_Heartbeat, Heartbeat__Output as _clocktower_agent_v1_Heartbeat__Output } from '../../../clocktower/agent/v1/Heartbeat.js';
import type { ServerBatch as _clocktower_agent_v1_ServerBatch, ServerBatch__Output as _clocktower_agent_v1_ServerBatch__Output } from '../../../clocktower/agent/v1/ServerBatch.js';

export interface ServerMessage {
  'redirect'?: (_clocktower_agent_v1_Redirect | null);
  'registered'?: (_clocktower_agent_v1_Registered | null);
  'assign'?: (_clocktower_agent_v1_Assign | null);
  'stop'?: (_clocktower_agent_v1_Stop | null);
  'ack'?: (_clocktower_agent_v1_ResultAck | null);
  'refused'?: (_clocktower_agent_v1_Refused | null);
  'heartbeat'?: (_clocktower_agent_v1_Heartbeat | null);
  'batch'?: (_clocktower_agent_v1_ServerBatch | null);
  'msg'?: "redirect"|"registered"|"assign"|"stop"|"ack"|"refused"|"heartbeat"|"batch";
}

export interface ServerMessage__Output {
  'redirect'?: (_clocktower_agent_v1_Redirect__Output | null);
  'registered'?: (_clocktower_agent_v1_Registered__Output | null);
  'assign'?: (_clocktower_agent_v1_Assign__Output | null);
  'stop'?: (_clocktower_agent_v1_Stop__Output | null);
  'ack'?: (_clocktower_agent_v1_ResultAck__Output | null);
  'refused'?: (_clocktower_agent_v1_Refused__Output | null);
  'heartbeat'?: (_clocktower_agent_v1_Heartbeat__Output | null);
  'batch'?: (_clocktower_agent_v1_ServerBatch__Output | null);
  'msg'?: "redirect"|"registered"|"assign"|"stop"|"ack"|"refused"|"heartbeat"|"batch";
}
