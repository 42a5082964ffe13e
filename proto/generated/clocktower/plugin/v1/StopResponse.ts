// Original file: proto/plugin.proto


export interface StopResponse {
  'found'?: (boolean);
}

export interface StopResponse__Output {
  'found': (boolean);
}
