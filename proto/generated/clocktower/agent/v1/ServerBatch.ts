// Original file: proto/agent.proto

import type { Assign as _clocktower_agent_v1_Assign, Assign__Output as _clocktower_agent_v1_Assign__Output } from '../../../clocktower/agent/v1/Assign.js';
import type { Stop as _clocktower_agent_v1_Stop, Stop__Output as _clocktower_agent_v1_Stop__Output } from '../../../clocktower/agent/v1/Stop.js';
import type { ResultAck as _clocktower_agent_v1_ResultAck, ResultAck__Output as _clocktower_agent_v1_ResultAck__Output } from '../../../clocktower/agent/v1/ResultAck.js';

export interface ServerBatch {
  'assigns'?: (_clocktower_agent_v1_Assign)[];
  'stops'?: (_clocktower_agent_v1_Stop)[];
  'acks'?: (_clocktower_agent_v1_ResultAck)[];
}

export interface ServerBatch__Output {
  'assigns': (_clocktower_agent_v1_Assign__Output)[];
  'stops': (_clocktower_agent_v1_Stop__Output)[];
  'acks': (_clocktower_agent_v1_ResultAck__Output)[];
}
