// Original file: proto/agent.proto


export interface Registered {
  'server'?: (string);
  'heartbeat_ms'?: (number);
  'servers'?: (string)[];
  'output_limit'?: (number);
  'accepts_batches'?: (boolean);
}

export interface Registered__Output {
  'server': (string);
  'heartbeat_ms': (number);
  'servers': (string)[];
  'output_limit': (number);
  'accepts_batches': (boolean);
}
