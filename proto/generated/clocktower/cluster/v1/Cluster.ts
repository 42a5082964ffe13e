// Original file: proto/cluster.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { IdentifyRequest as _clocktower_cluster_v1_IdentifyRequest, IdentifyRequest__Output as _clocktower_cluster_v1_IdentifyRequest__Output } from '../../../clocktower/cluster/v1/IdentifyRequest.js';
import type { IdentifyResponse as _clocktower_cluster_v1_IdentifyResponse, IdentifyResponse__Output as _clocktower_cluster_v1_IdentifyResponse__Output } from '../../../clocktower/cluster/v1/IdentifyResponse.js';
import type { JoinRequest as _clocktower_cluster_v1_JoinRequest, JoinRequest__Output as _clocktower_cluster_v1_JoinRequest__Output } from '../../../clocktower/cluster/v1/JoinRequest.js';
import type { JoinResponse as _clocktower_cluster_v1_JoinResponse, JoinResponse__Output as _clocktower_cluster_v1_JoinResponse__Output } from '../../../clocktower/cluster/v1/JoinResponse.js';
import type { LeaveRequest as _clocktower_cluster_v1_LeaveRequest, LeaveRequest__Output as _clocktower_cluster_v1_LeaveRequest__Output } from '../../../clocktower/cluster/v1/LeaveRequest.js';
import type { LeaveResponse as _clocktower_cluster_v1_LeaveResponse, LeaveResponse__Output as _clocktower_cluster_v1_LeaveResponse__Output } from '../../../clocktower/cluster/v1/LeaveResponse.js';

export interface ClusterClient extends grpc.Client {
  Identify(argument: _clocktower_cluster_v1_IdentifyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_cluster_v1_IdentifyResponse__Output>): grpc.ClientUnaryCall;
  Identify(argument: _clocktower_cluster_v1_IdentifyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_clocktower_cluster_v1_IdentifyResponse__Output>): grpc.ClientUnaryCall;
  Identify(argument: _clocktower_cluster_v1_IdentifyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_cluster_v1_IdentifyResponse__Output>): grpc.ClientUnaryCall;
  Identify(argument: _clocktower_cluster_v1_IdentifyRequest, callback: grpc.requestCallback<_clocktower_cluster_v1_IdentifyResponse__Output>): grpc.ClientUnaryCall;
  identify(argument: _clocktower_cluster_v1_IdentifyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_cluster_v1_IdentifyResponse__Output>): grpc.ClientUnaryCall;
  identify(argument: _clocktower_cluster_v1_IdentifyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_clocktower_cluster_v1_IdentifyResponse__Output>): grpc.ClientUnaryCall;
  identify(argument: _clocktower_cluster_v1_IdentifyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_cluster_v1_IdentifyResponse__Output>): grpc.ClientUnaryCall;
  identify(argument: _clocktower_cluster_v1_IdentifyRequest, callback: grpc.requestCallback<_clocktower_cluster_v1_IdentifyResponse__Output>): grpc.ClientUnaryCall;
  
  Join(argument: _clocktower_cluster_v1_JoinRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_cluster_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  Join(argument: _clocktower_cluster_v1_JoinRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_clocktower_cluster_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  Join(argument: _clocktower_cluster_v1_JoinRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_cluster_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  Join(argument: _clocktower_cluster_v1_JoinRequest, callback: grpc.requestCallback<_clocktower_cluster_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  join(argument: _clocktower_cluster_v1_JoinRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_cluster_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  join(argument: _clocktower_cluster_v1_JoinRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_clocktower_cluster_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  join(argument: _clocktower_cluster_v1_JoinRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_cluster_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  join(argument: _clocktower_cluster_v1_JoinRequest, callback: grpc.requestCallback<_clocktower_cluster_v1_JoinResponse__Output>): grpc.ClientUnaryCall;
  
  Leave(argument: _clocktower_cluster_v1_LeaveRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_cluster_v1_LeaveResponse__Output>): grpc.ClientUnaryCall;
  Leave(argument: _clocktower_cluster_v1_LeaveRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_clocktower_cluster_v1_LeaveResponse__Output>): grpc.ClientUnaryCall;
  Leave(argument: _clocktower_cluster_v1_LeaveRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_cluster_v1_LeaveResponse__Output>): grpc.ClientUnaryCall;
  Leave(argument: _clocktower_cluster_v1_LeaveRequest, callback: grpc.requestCallback<_clocktower_cluster_v1_LeaveResponse__Output>): grpc.ClientUnaryCall;
  leave(argument: _clocktower_cluster_v1_LeaveRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_cluster_v1_LeaveResponse__Output>): grpc.ClientUnaryCall;
  leave(argument: _clocktower_cluster_v1_LeaveRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_clocktower_cluster_v1_LeaveResponse__Output>): grpc.ClientUnaryCall;
  leave(argument: _clocktower_cluster_v1_LeaveRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_cluster_v1_LeaveResponse__Output>): grpc.ClientUnaryCall;
  leave(argument: _clocktower_cluster_v1_LeaveRequest, callback: grpc.requestCallback<_clocktower_cluster_v1_LeaveResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface ClusterHandlers extends grpc.UntypedServiceImplementation {
  Identify: grpc.handleUnaryCall<_clocktower_cluster_v1_IdentifyRequest__Output, _clocktower_cluster_v1_IdentifyResponse>;
  
  Join: grpc.handleUnaryCall<_clocktower_cluster_v1_JoinRequest__Output, _clocktower_cluster_v1_JoinResponse>;
  
  Leave: grpc.handleUnaryCall<_clocktower_cluster_v1_LeaveRequest__Output, _clocktower_cluster_v1_LeaveResponse>;
  
}

export interface ClusterDefinition extends grpc.ServiceDefinition {
  Identify: MethodDefinition<_clocktower_cluster_v1_IdentifyRequest, _clocktower_cluster_v1_IdentifyResponse, _clocktower_cluster_v1_IdentifyRequest__Output, _clocktower_cluster_v1_IdentifyResponse__Output>
  Join: MethodDefinition<_clocktower_cluster_v1_JoinRequest, _clocktower_cluster_v1_JoinResponse, _clocktower_cluster_v1_JoinRequest__Output, _clocktower_cluster_v1_JoinResponse__Output>
  Leave: MethodDefinition<_clocktower_cluster_v1_LeaveRequest, _clocktower_cluster_v1_LeaveResponse, _clocktower_cluster_v1_LeaveRequest__Output, _clocktower_cluster_v1_LeaveResponse__Output>
}
