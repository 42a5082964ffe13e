// Original file: proto/plugin.proto


export interface ValidateRequest {
  'config'?: ({[key: string]: string});
}

export interface ValidateRequest__Output {
  'config': ({[key: string]: string});
}
