// Original file: proto/agent.proto

import type { ExecutorSecretKeys as _clocktower_agent_v1_ExecutorSecretKeys, ExecutorSecretKeys__Output as _clocktower_agent_v1_ExecutorSecretKeys__Output } from '../../../clocktower/agent/v1/ExecutorSecretKeys.js';

export interface Register {
  'node'?: (string);
  'tags'?: ({[key: string]: string});
  'executors'?: (string)[];
  'capacity'?: (number);
  'instance'?: (string);
  'version'?: (string);
  'running'?: (string)[];
  'secret_keys'?: (_clocktower_agent_v1_ExecutorSecretKeys)[];
  'accepts_batches'?: (boolean);
}

export interface Register__Output {
  'node': (string);
  'tags': ({[key: string]: string});
  'executors': (string)[];
  'capacity': (number);
  'instance': (string);
  'version': (string);
  'running': (string)[];
  'secret_keys': (_clocktower_agent_v1_ExecutorSecretKeys__Output)[];
  'accepts_batches': (boolean);
}
