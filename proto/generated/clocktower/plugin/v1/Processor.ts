// Original file: proto/plugin.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ProcessRequest as _clocktower_plugin_v1_ProcessRequest, ProcessRequest__Output as _clocktower_plugin_v1_ProcessRequest__Output } from '../../../clocktower/plugin/v1/ProcessRequest.js';
import type { ProcessResponse as _clocktower_plugin_v1_ProcessResponse, ProcessResponse__Output as _clocktower_plugin_v1_ProcessResponse__Output } from '../../../clocktower/plugin/v1/ProcessResponse.js';

export interface ProcessorClient extends grpc.Client {
  Process(argument: _clocktower_plugin_v1_ProcessRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_plugin_v1_ProcessResponse__Output>): grpc.ClientUnaryCall;
  Process(argument: _clocktower_plugin_v1_ProcessRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_clocktower_plugin_v1_ProcessResponse__Output>): grpc.ClientUnaryCall;
  Process(argument: _clocktower_plugin_v1_ProcessRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_plugin_v1_ProcessResponse__Output>): grpc.ClientUnaryCall;
  Process(argument: _clocktower_plugin_v1_ProcessRequest, callback: grpc.requestCallback<_clocktower_plugin_v1_ProcessResponse__Output>): grpc.ClientUnaryCall;
  process(argument: _clocktower_plugin_v1_ProcessRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_plugin_v1_ProcessResponse__Output>): grpc.ClientUnaryCall;
  process(argument: _clocktower_plugin_v1_ProcessRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_clocktower_plugin_v1_ProcessResponse__Output>): grpc.ClientUnaryCall;
  process(argument: _clocktower_plugin_v1_ProcessRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_plugin_v1_ProcessResponse__Output>): grpc.ClientUnaryCall;
  process(argument: _clocktower_plugin_v1_ProcessRequest, callback: grpc.requestCallback<_clocktower_plugin_v1_ProcessResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface ProcessorHandlers extends grpc.UntypedServiceImplementation {
  Process: grpc.handleUnaryCall<_clocktower_plugin_v1_ProcessRequest__Output, _clocktower_plugin_v1_ProcessResponse>;
  
}

export interface ProcessorDefinition extends grpc.ServiceDefinition {
  Process: MethodDefinition<_clocktower_plugin_v1_ProcessRequest, _clocktower_plugin_v1_ProcessResponse, _clocktower_plugin_v1_ProcessRequest__Output, _clocktower_plugin_v1_ProcessResponse__Output>
}
