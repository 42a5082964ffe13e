// Original file: proto/plugin.proto

import type { Execution as _clocktower_plugin_v1_Execution, Execution__Output as _clocktower_plugin_v1_Execution__Output } from '../../../clocktower/plugin/v1/Execution.js';

export interface ProcessResponse {
  'execution'?: (_clocktower_plugin_v1_Execution | null);
}

export interface ProcessResponse__Output {
  'execution': (_clocktower_plugin_v1_Execution__Output | null);
}
