// Original file: proto/plugin.proto


export interface DescribeResponse {
  'secret_keys'?: (string)[];
}

export interface DescribeResponse__Output {
  'secret_keys': (string)[];
}
