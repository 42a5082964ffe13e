// Original file: proto/plugin.proto


export interface ExecuteResult {
  'success'?: (boolean);
  'exit_code'?: (number);
  'error'?: (string);
}

export interface ExecuteResult__Output {
  'success': (boolean);
  'exit_code': (number);
  'error': (string);
}
