// Original file: proto/plugin.proto

import type { Long } from '@grpc/proto-loader';

export interface ExecuteRequest {
  'job_name'?: (string);
  'config'?: ({[key: string]: string});
  'execution_id'?: (string);
  'scheduled_at_ms'?: (number | string | Long);
  'attempt'?: (number);
  'output_limit_bytes'?: (number | string | Long);
  'params'?: ({[key: string]: string});
}

export interface ExecuteRequest__Output {
  'job_name': (string);
  'config': ({[key: string]: string});
  'execution_id': (string);
  'scheduled_at_ms': (string);
  'attempt': (number);
  'output_limit_bytes': (string);
  'params': ({[key: string]: string});
}
