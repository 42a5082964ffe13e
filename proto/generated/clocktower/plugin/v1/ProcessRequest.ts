// Original file: proto/plugin.proto

import type { Execution as _clocktower_plugin_v1_Execution, Execution__Output as _clocktower_plugin_v1_Execution__Output } from '../../../clocktower/plugin/v1/Execution.js';

export interface ProcessRequest {
  'execution'?: (_clocktower_plugin_v1_Execution | null);
  'config'?: ({[key: string]: string});
}

export interface ProcessRequest__Output {
  'execution': (_clocktower_plugin_v1_Execution__Output | null);
  'config': ({[key: string]: string});
}
