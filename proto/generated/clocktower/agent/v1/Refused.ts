// Original file: proto/agent.proto


export interface Refused {
  'error'?: (string);
}

export interface Refused__Output {
  'error': (string);
}
