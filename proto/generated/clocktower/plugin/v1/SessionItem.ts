// Original file: proto/plugin.proto

import type { OutputChunk as _clocktower_plugin_v1_OutputChunk, OutputChunk__Output as _clocktower_plugin_v1_OutputChunk__Output } from '../../../clocktower/plugin/v1/OutputChunk.js';
import type { ExecuteResult as _clocktower_plugin_v1_ExecuteResult, ExecuteResult__Output as _clocktower_plugin_v1_ExecuteResult__Output } from '../../../clocktower/plugin/v1/ExecuteResult.js';

export interface SessionItem {
  'execution_id'?: (string);
  'output'?: (_clocktower_plugin_v1_OutputChunk | null);
  'result'?: (_clocktower_plugin_v1_ExecuteResult | null);
  'event'?: "output"|"result";
}

export interface SessionItem__Output {
  'execution_id': (string);
  'output'?: (_clocktower_plugin_v1_OutputChunk__Output | null);
  'result'?: (_clocktower_plugin_v1_ExecuteResult__Output | null);
  'event'?: "output"|"result";
}
