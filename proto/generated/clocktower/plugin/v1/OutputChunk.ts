// Original file: proto/plugin.proto


export interface OutputChunk {
  'data'?: (Buffer | Uint8Array | string);
}

export interface OutputChunk__Output {
  'data': (Buffer);
}
