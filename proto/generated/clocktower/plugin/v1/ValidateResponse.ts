// Original file: proto/plugin.proto


export interface ValidateResponse {
  'error'?: (string);
  'error_code'?: (string);
}

export interface ValidateResponse__Output {
  'error': (string);
  'error_code': (string);
}
