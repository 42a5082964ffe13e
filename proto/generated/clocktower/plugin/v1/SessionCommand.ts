// Original file: proto/plugin.proto

import type { SessionExecute as _clocktower_plugin_v1_SessionExecute, SessionExecute__Output as _clocktower_plugin_v1_SessionExecute__Output } from '../../../clocktower/plugin/v1/SessionExecute.js';
import type { StopRequest as _clocktower_plugin_v1_StopRequest, StopRequest__Output as _clocktower_plugin_v1_StopRequest__Output } from '../../../clocktower/plugin/v1/StopRequest.js';
import type { OutputCredit as _clocktower_plugin_v1_OutputCredit, OutputCredit__Output as _clocktower_plugin_v1_OutputCredit__Output } from '../../../clocktower/plugin/v1/OutputCredit.js';

export interface SessionCommand {
  'execute'?: (_clocktower_plugin_v1_SessionExecute | null);
  'stop'?: (_clocktower_plugin_v1_StopRequest | null);
  'credit'?: (_clocktower_plugin_v1_OutputCredit | null);
  'command'?: "execute"|"stop"|"credit";
}

export interface SessionCommand__Output {
  'execute'?: (_clocktower_plugin_v1_SessionExecute__Output | null);
  'stop'?: (_clocktower_plugin_v1_StopRequest__Output | null);
  'credit'?: (_clocktower_plugin_v1_OutputCredit__Output | null);
  'command'?: "execute"|"stop"|"credit";
}
