// Original file: proto/cluster.proto

import type { Identity as _clocktower_cluster_v1_Identity, Identity__Output as _clocktower_cluster_v1_Identity__Output } from '../../../clocktower/cluster/v1/Identity.js';

export interface JoinRequest {
  'node'?: (_clocktower_cluster_v1_Identity | null);
}

export interface JoinRequest__Output {
  'node': (_clocktower_cluster_v1_Identity__Output | null);
}
