// Original file: proto/raft.proto

import type { SnapshotHeader as _clocktower_raft_v1_SnapshotHeader, SnapshotHeader__Output as _clocktower_raft_v1_SnapshotHeader__Output } from '../../../clocktower/raft/v1/SnapshotHeader.js';

export interface SnapshotChunk {
  'header'?: (_clocktower_raft_v1_SnapshotHeader | null);
  'data'?: (Buffer | Uint8Array | string);
  'chunk'?: "header"|"data";
}

export interface SnapshotChunk__Output {
  'header'?: (_clocktower_raft_v1_SnapshotHeader__Output | null);
  'data'?: (Buffer);
  'chunk'?: "header"|"data";
}
