// Original file: proto/plugin.proto

import type { Long } from '@grpc/proto-loader';

export interface Execution {
  'id'?: (string);
  'job_name'?: (string);
  'started_at_ms'?: (number | string | Long);
  'finished_at_ms'?: (number | string | Long);
  'success'?: (boolean);
  'output'?: (Buffer | Uint8Array | string);
  'node_name'?: (string);
  'attempt'?: (number);
  'group'?: (string);
  'scheduled_at_ms'?: (number | string | Long);
}

export interface Execution__Output {
  'id': (string);
  'job_name': (string);
  'started_at_ms': (string);
  'finished_at_ms': (string);
  'success': (boolean);
  'output': (Buffer);
  'node_name': (string);
  'attempt': (number);
  'group': (string);
  'scheduled_at_ms': (string);
}
