// Original file: proto/plugin.proto


export interface ValidateResponse {
  'error'?: (string);
}

export interface ValidateResponse__Output {
  'error': (string);
}
