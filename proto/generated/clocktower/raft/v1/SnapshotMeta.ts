// Original file: proto/raft.proto

import type { ConfState as _clocktower_raft_v1_ConfState, ConfState__Output as _clocktower_raft_v1_ConfState__Output } from '../../../clocktower/raft/v1/ConfState.js';
import type { Long } from '@grpc/proto-loader';

export interface SnapshotMeta {
  'index'?: (number | string | Long);
  'term'?: (number | string | Long);
  'conf'?: (_clocktower_raft_v1_ConfState | null);
}

export interface SnapshotMeta__Output {
  'index': (string);
  'term': (string);
  'conf': (_clocktower_raft_v1_ConfState__Output | null);
}
