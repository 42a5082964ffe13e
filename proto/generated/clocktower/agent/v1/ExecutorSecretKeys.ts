// Original file: proto/agent.proto


export interface ExecutorSecretKeys {
  'executor'?: (string);
  'keys'?: (string)[];
}

export interface ExecutorSecretKeys__Output {
  'executor': (string);
  'keys': (string)[];
}
