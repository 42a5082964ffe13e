// Original file: proto/agent.proto


export interface Stop {
  'execution_id'?: (string);
}

export interface Stop__Output {
  'execution_id': (string);
}
