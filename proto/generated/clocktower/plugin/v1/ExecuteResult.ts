// Original file: proto/plugin.proto


export interface ExecuteResult {
  'success'?: (boolean);
  'exit_code'?: (number);
  'error'?: (string);
  'params_out'?: ({[key: string]: string});
  'error_code'?: (string);
}

export interface ExecuteResult__Output {
  'success': (boolean);
  'exit_code': (number);
  'error': (string);
  'params_out': ({[key: string]: string});
  'error_code': (string);
}
