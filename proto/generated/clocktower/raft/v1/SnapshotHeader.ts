// Original file: proto/raft.proto

import type { RaftMessage as _clocktower_raft_v1_RaftMessage, RaftMessage__Output as _clocktower_raft_v1_RaftMessage__Output } from '../../../clocktower/raft/v1/RaftMessage.js';
import type { SnapshotMeta as _clocktower_raft_v1_SnapshotMeta, SnapshotMeta__Output as _clocktower_raft_v1_SnapshotMeta__Output } from '../../../clocktower/raft/v1/SnapshotMeta.js';
import type { Long } from '@grpc/proto-loader';

export interface SnapshotHeader {
  'message'?: (_clocktower_raft_v1_RaftMessage | null);
  'meta'?: (_clocktower_raft_v1_SnapshotMeta | null);
  'size'?: (number | string | Long);
}

export interface SnapshotHeader__Output {
  'message': (_clocktower_raft_v1_RaftMessage__Output | null);
  'meta': (_clocktower_raft_v1_SnapshotMeta__Output | null);
  'size': (string);
}
