// Original file: proto/plugin.proto

import type { SessionItem as _clocktower_plugin_v1_SessionItem, SessionItem__Output as _clocktower_plugin_v1_SessionItem__Output } from '../../../clocktower/plugin/v1/SessionItem.js';

export interface SessionEvent {
  'items'?: (_clocktower_plugin_v1_SessionItem)[];
}

export interface SessionEvent__Output {
  'items': (_clocktower_plugin_v1_SessionItem__Output)[];
}
