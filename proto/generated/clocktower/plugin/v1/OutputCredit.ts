// Original file: proto/plugin.proto

import type { Long } from '@grpc/proto-loader';

export interface OutputCredit {
  'execution_id'?: (string);
  'bytes'?: (number | string | Long);
}

export interface OutputCredit__Output {
  'execution_id': (string);
  'bytes': (string);
}
