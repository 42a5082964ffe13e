// Original file: proto/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface Result {
  'execution_id'?: (string);
  'success'?: (boolean);
  'exit_code'?: (number);
  'error'?: (string);
  'finished_at_ms'?: (number | string | Long);
  'stopped'?: (boolean);
  'unknown'?: (boolean);
  'output_tail'?: (Buffer | Uint8Array | string);
  'output_total_bytes'?: (number | string | Long);
  'params_out'?: ({[key: string]: string});
  'error_code'?: (string);
}

export interface Result__Output {
  'execution_id': (string);
  'success': (boolean);
  'exit_code': (number);
  'error': (string);
  'finished_at_ms': (string);
  'stopped': (boolean);
  'unknown': (boolean);
  'output_tail': (Buffer);
  'output_total_bytes': (string);
  'params_out': ({[key: string]: string});
  'error_code': (string);
}
