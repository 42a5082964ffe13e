// Original file: proto/plugin.proto


export interface StopRequest {
  'execution_id'?: (string);
}

export interface StopRequest__Output {
  'execution_id': (string);
}
