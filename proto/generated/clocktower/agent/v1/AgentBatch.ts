// Original file: proto/agent.proto

import type { Output as _clocktower_agent_v1_Output, Output__Output as _clocktower_agent_v1_Output__Output } from '../../../clocktower/agent/v1/Output.js';
import type { Result as _clocktower_agent_v1_Result, Result__Output as _clocktower_agent_v1_Result__Output } from '../../../clocktower/agent/v1/Result.js';

export interface AgentBatch {
  'outputs'?: (_clocktower_agent_v1_Output)[];
  'results'?: (_clocktower_agent_v1_Result)[];
}

export interface AgentBatch__Output {
  'outputs': (_clocktower_agent_v1_Output__Output)[];
  'results': (_clocktower_agent_v1_Result__Output)[];
}
