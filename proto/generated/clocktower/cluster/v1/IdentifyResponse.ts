// Original file: proto/cluster.proto

import type { Identity as _clocktower_cluster_v1_Identity, Identity__Output as _clocktower_cluster_v1_Identity__Output } from '../../../clocktower/cluster/v1/Identity.js';

export interface IdentifyResponse {
  'self'?: (_clocktower_cluster_v1_Identity | null);
  'in_cluster'?: (boolean);
  'known'?: (_clocktower_cluster_v1_Identity)[];
  'leader'?: (string);
  'members'?: (_clocktower_cluster_v1_Identity)[];
}

export interface IdentifyResponse__Output {
  'self': (_clocktower_cluster_v1_Identity__Output | null);
  'in_cluster': (boolean);
  'known': (_clocktower_cluster_v1_Identity__Output)[];
  'leader': (string);
  'members': (_clocktower_cluster_v1_Identity__Output)[];
}
