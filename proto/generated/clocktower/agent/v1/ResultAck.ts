// Original file: proto/agent.proto


export interface ResultAck {
  'execution_id'?: (string);
}

export interface ResultAck__Output {
  'execution_id': (string);
}
