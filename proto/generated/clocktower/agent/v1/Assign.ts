// Original file: proto/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface Assign {
  'execution_id'?: (string);
  'job_name'?: (string);
  'executor'?: (string);
  'config'?: ({[key: string]: string});
  'scheduled_at_ms'?: (number | string | Long);
  'attempt'?: (number);
  'resume_only'?: (boolean);
  'have_output_bytes'?: (number | string | Long);
  'params'?: ({[key: string]: string});
}

export interface Assign__Output {
  'execution_id': (string);
  'job_name': (string);
  'executor': (string);
  'config': ({[key: string]: string});
  'scheduled_at_ms': (string);
  'attempt': (number);
  'resume_only': (boolean);
  'have_output_bytes': (string);
  'params': ({[key: string]: string});
}
