// Original file: proto/raft.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { RaftMessage as _clocktower_raft_v1_RaftMessage, RaftMessage__Output as _clocktower_raft_v1_RaftMessage__Output } from '../../../clocktower/raft/v1/RaftMessage.js';
import type { SendAck as _clocktower_raft_v1_SendAck, SendAck__Output as _clocktower_raft_v1_SendAck__Output } from '../../../clocktower/raft/v1/SendAck.js';
import type { SnapshotAck as _clocktower_raft_v1_SnapshotAck, SnapshotAck__Output as _clocktower_raft_v1_SnapshotAck__Output } from '../../../clocktower/raft/v1/SnapshotAck.js';
import type { SnapshotChunk as _clocktower_raft_v1_SnapshotChunk, SnapshotChunk__Output as _clocktower_raft_v1_SnapshotChunk__Output } from '../../../clocktower/raft/v1/SnapshotChunk.js';

export interface RaftClient extends grpc.Client {
  InstallSnapshot(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_raft_v1_SnapshotAck__Output>): grpc.ClientWritableStream<_clocktower_raft_v1_SnapshotChunk>;
  InstallSnapshot(metadata: grpc.Metadata, callback: grpc.requestCallback<_clocktower_raft_v1_SnapshotAck__Output>): grpc.ClientWritableStream<_clocktower_raft_v1_SnapshotChunk>;
  InstallSnapshot(options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_raft_v1_SnapshotAck__Output>): grpc.ClientWritableStream<_clocktower_raft_v1_SnapshotChunk>;
  InstallSnapshot(callback: grpc.requestCallback<_clocktower_raft_v1_SnapshotAck__Output>): grpc.ClientWritableStream<_clocktower_raft_v1_SnapshotChunk>;
  installSnapshot(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_raft_v1_SnapshotAck__Output>): grpc.ClientWritableStream<_clocktower_raft_v1_SnapshotChunk>;
  installSnapshot(metadata: grpc.Metadata, callback: grpc.requestCallback<_clocktower_raft_v1_SnapshotAck__Output>): grpc.ClientWritableStream<_clocktower_raft_v1_SnapshotChunk>;
  installSnapshot(options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_raft_v1_SnapshotAck__Output>): grpc.ClientWritableStream<_clocktower_raft_v1_SnapshotChunk>;
  installSnapshot(callback: grpc.requestCallback<_clocktower_raft_v1_SnapshotAck__Output>): grpc.ClientWritableStream<_clocktower_raft_v1_SnapshotChunk>;
  
  Send(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_raft_v1_SendAck__Output>): grpc.ClientWritableStream<_clocktower_raft_v1_RaftMessage>;
  Send(metadata: grpc.Metadata, callback: grpc.requestCallback<_clocktower_raft_v1_SendAck__Output>): grpc.ClientWritableStream<_clocktower_raft_v1_RaftMessage>;
  Send(options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_raft_v1_SendAck__Output>): grpc.ClientWritableStream<_clocktower_raft_v1_RaftMessage>;
  Send(callback: grpc.requestCallback<_clocktower_raft_v1_SendAck__Output>): grpc.ClientWritableStream<_clocktower_raft_v1_RaftMessage>;
  send(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_raft_v1_SendAck__Output>): grpc.ClientWritableStream<_clocktower_raft_v1_RaftMessage>;
  send(metadata: grpc.Metadata, callback: grpc.requestCallback<_clocktower_raft_v1_SendAck__Output>): grpc.ClientWritableStream<_clocktower_raft_v1_RaftMessage>;
  send(options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_raft_v1_SendAck__Output>): grpc.ClientWritableStream<_clocktower_raft_v1_RaftMessage>;
  send(callback: grpc.requestCallback<_clocktower_raft_v1_SendAck__Output>): grpc.ClientWritableStream<_clocktower_raft_v1_RaftMessage>;
  
}

export interface RaftHandlers extends grpc.UntypedServiceImplementation {
  InstallSnapshot: grpc.handleClientStreamingCall<_clocktower_raft_v1_SnapshotChunk__Output, _clocktower_raft_v1_SnapshotAck>;
  
  Send: grpc.handleClientStreamingCall<_clocktower_raft_v1_RaftMessage__Output, _clocktower_raft_v1_SendAck>;
  
}

export interface RaftDefinition extends grpc.ServiceDefinition {
  InstallSnapshot: MethodDefinition<_clocktower_raft_v1_SnapshotChunk, _clocktower_raft_v1_SnapshotAck, _clocktower_raft_v1_SnapshotChunk__Output, _clocktower_raft_v1_SnapshotAck__Output>
  Send: MethodDefinition<_clocktower_raft_v1_RaftMessage, _clocktower_raft_v1_SendAck, _clocktower_raft_v1_RaftMessage__Output, _clocktower_raft_v1_SendAck__Output>
}
