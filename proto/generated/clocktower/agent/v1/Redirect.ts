// Original file: proto/agent.proto


export interface Redirect {
  'leader_rpc_addr'?: (string);
}

export interface Redirect__Output {
  'leader_rpc_addr': (string);
}
