import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { ClusterClient as _clocktower_cluster_v1_ClusterClient, ClusterDefinition as _clocktower_cluster_v1_ClusterDefinition } from './clocktower/cluster/v1/Cluster.js';
import type { IdentifyRequest as _clocktower_cluster_v1_IdentifyRequest, IdentifyRequest__Output as _clocktower_cluster_v1_IdentifyRequest__Output } from './clocktower/cluster/v1/IdentifyRequest.js';
import type { IdentifyResponse as _clocktower_cluster_v1_IdentifyResponse, IdentifyResponse__Output as _clocktower_cluster_v1_IdentifyResponse__Output } from './clocktower/cluster/v1/IdentifyResponse.js';
import type { Identity as _clocktower_cluster_v1_Identity, Identity__Output as _clocktower_cluster_v1_Identity__Output } from './clocktower/cluster/v1/Identity.js';
import type { JoinRequest as _clocktower_cluster_v1_JoinRequest, JoinRequest__Output as _clocktower_cluster_v1_JoinRequest__Output } from './clocktower/cluster/v1/JoinRequest.js';
import type { JoinResponse as _clocktower_cluster_v1_JoinResponse, JoinResponse__Output as _clocktower_cluster_v1_JoinResponse__Output } from './clocktower/cluster/v1/JoinResponse.js';
import type { LeaveRequest as _clocktower_cluster_v1_LeaveRequest, LeaveRequest__Output as _clocktower_cluster_v1_LeaveRequest__Output } from './clocktower/cluster/v1/LeaveRequest.js';
import type { LeaveResponse as _clocktower_cluster_v1_LeaveResponse, LeaveResponse__Output as _clocktower_cluster_v1_LeaveResponse__Output } from './clocktower/cluster/v1/LeaveResponse.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  clocktower: {
    cluster: {
      v1: {
        Cluster: SubtypeConstructor<typeof grpc.Client, _clocktower_cluster_v1_ClusterClient> & { service: _clocktower_cluster_v1_ClusterDefinition }
        IdentifyRequest: MessageTypeDefinition<_clocktower_cluster_v1_IdentifyRequest, _clocktower_cluster_v1_IdentifyRequest__Output>
        IdentifyResponse: MessageTypeDefinition<_clocktower_cluster_v1_IdentifyResponse, _clocktower_cluster_v1_IdentifyResponse__Output>
        Identity: MessageTypeDefinition<_clocktower_cluster_v1_Identity, _clocktower_cluster_v1_Identity__Output>
        JoinRequest: MessageTypeDefinition<_clocktower_cluster_v1_JoinRequest, _clocktower_cluster_v1_JoinRequest__Output>
        JoinResponse: MessageTypeDefinition<_clocktower_cluster_v1_JoinResponse, _clocktower_cluster_v1_JoinResponse__Output>
        LeaveRequest: MessageTypeDefinition<_clocktower_cluster_v1_LeaveRequest, _clocktower_cluster_v1_LeaveRequest__Output>
        LeaveResponse: MessageTypeDefinition<_clocktower_cluster_v1_LeaveResponse, _clocktower_cluster_v1_LeaveResponse__Output>
      }
    }
  }
}

