// Original file: proto/plugin.proto

import type { SessionCommand as _clocktower_plugin_v1_SessionCommand, SessionCommand__Output as _clocktower_plugin_v1_SessionCommand__Output } from '../../../clocktower/plugin/v1/SessionCommand.js';

export interface SessionRequest {
  'commands'?: (_clocktower_plugin_v1_SessionCommand)[];
}

export interface SessionRequest__Output {
  'commands': (_clocktower_plugin_v1_SessionCommand__Output)[];
}
