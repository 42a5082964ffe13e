// Original file: proto/cluster.proto


export interface JoinResponse {
  'error'?: (string);
  'leader_rpc_addr'?: (string);
}

export interface JoinResponse__Output {
  'error': (string);
  'leader_rpc_addr': (string);
}
