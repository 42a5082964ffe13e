// Original file: proto/agent.proto


export interface Output {
  'execution_id'?: (string);
  'data'?: (Buffer | Uint8Array | string);
}

export interface Output__Output {
  'execution_id': (string);
  'data': (Buffer);
}
