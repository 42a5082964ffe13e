// Original file: proto/plugin.proto

import type { ExecuteRequest as _clocktower_plugin_v1_ExecuteRequest, ExecuteRequest__Output as _clocktower_plugin_v1_ExecuteRequest__Output } from '../../../clocktower/plugin/v1/ExecuteRequest.js';
import type { Long } from '@grpc/proto-loader';

export interface SessionExecute {
  'request'?: (_clocktower_plugin_v1_ExecuteRequest | null);
  'credit_bytes'?: (number | string | Long);
}

export interface SessionExecute__Output {
  'request': (_clocktower_plugin_v1_ExecuteRequest__Output | null);
  'credit_bytes': (string);
}
