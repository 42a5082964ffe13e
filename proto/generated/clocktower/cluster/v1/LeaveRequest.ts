// Original file: proto/cluster.proto


export interface LeaveRequest {
  'node'?: (string);
}

export interface LeaveRequest__Output {
  'node': (string);
}
