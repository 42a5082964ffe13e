// Original file: proto/cluster.proto


export interface Identity {
  'node'?: (string);
  'rpc_addr'?: (string);
  'http_addr'?: (string);
}

export interface Identity__Output {
  'node': (string);
  'rpc_addr': (string);
  'http_addr': (string);
}
