// Original file: proto/cluster.proto


export interface LeaveResponse {
  'error'?: (string);
  'leader_rpc_addr'?: (string);
}

export interface LeaveResponse__Output {
  'error': (string);
  'leader_rpc_addr': (string);
}
