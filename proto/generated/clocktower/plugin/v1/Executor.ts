// Original file: proto/plugin.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { DescribeRequest as _clocktower_plugin_v1_DescribeRequest, DescribeRequest__Output as _clocktower_plugin_v1_DescribeRequest__Output } from '../../../clocktower/plugin/v1/DescribeRequest.js';
import type { DescribeResponse as _clocktower_plugin_v1_DescribeResponse, DescribeResponse__Output as _clocktower_plugin_v1_DescribeResponse__Output } from '../../../clocktower/plugin/v1/DescribeResponse.js';
import type { ExecuteEvent as _clocktower_plugin_v1_ExecuteEvent, ExecuteEvent__Output as _clocktower_plugin_v1_ExecuteEvent__Output } from '../../../clocktower/plugin/v1/ExecuteEvent.js';
import type { ExecuteRequest as _clocktower_plugin_v1_ExecuteRequest, ExecuteRequest__Output as _clocktower_plugin_v1_ExecuteRequest__Output } from '../../../clocktower/plugin/v1/ExecuteRequest.js';
import type { SessionEvent as _clocktower_plugin_v1_SessionEvent, SessionEvent__Output as _clocktower_plugin_v1_SessionEvent__Output } from '../../../clocktower/plugin/v1/SessionEvent.js';
import type { SessionRequest as _clocktower_plugin_v1_SessionRequest, SessionRequest__Output as _clocktower_plugin_v1_SessionRequest__Output } from '../../../clocktower/plugin/v1/SessionRequest.js';
import type { StopRequest as _clocktower_plugin_v1_StopRequest, StopRequest__Output as _clocktower_plugin_v1_StopRequest__Output } from '../../../clocktower/plugin/v1/StopRequest.js';
import type { StopResponse as _clocktower_plugin_v1_StopResponse, StopResponse__Output as _clocktower_plugin_v1_StopResponse__Output } from '../../../clocktower/plugin/v1/StopResponse.js';
import type { ValidateRequest as _clocktower_plugin_v1_ValidateRequest, ValidateRequest__Output as _clocktower_plugin_v1_ValidateRequest__Output } from '../../../clocktower/plugin/v1/ValidateRequest.js';
import type { ValidateResponse as _clocktower_plugin_v1_ValidateResponse, ValidateResponse__Output as _clocktower_plugin_v1_ValidateResponse__Output } from '../../../clocktower/plugin/v1/ValidateResponse.js';

export interface ExecutorClient extends grpc.Client {
  Describe(argument: _clocktower_plugin_v1_DescribeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_plugin_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  Describe(argument: _clocktower_plugin_v1_DescribeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_clocktower_plugin_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  Describe(argument: _clocktower_plugin_v1_DescribeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_plugin_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  Describe(argument: _clocktower_plugin_v1_DescribeRequest, callback: grpc.requestCallback<_clocktower_plugin_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  describe(argument: _clocktower_plugin_v1_DescribeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_plugin_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  describe(argument: _clocktower_plugin_v1_DescribeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_clocktower_plugin_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  describe(argument: _clocktower_plugin_v1_DescribeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_plugin_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  describe(argument: _clocktower_plugin_v1_DescribeRequest, callback: grpc.requestCallback<_clocktower_plugin_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  
  Execute(argument: _clocktower_plugin_v1_ExecuteRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_clocktower_plugin_v1_ExecuteEvent__Output>;
  Execute(argument: _clocktower_plugin_v1_ExecuteRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_clocktower_plugin_v1_ExecuteEvent__Output>;
  execute(argument: _clocktower_plugin_v1_ExecuteRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_clocktower_plugin_v1_ExecuteEvent__Output>;
  execute(argument: _clocktower_plugin_v1_ExecuteRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_clocktower_plugin_v1_ExecuteEvent__Output>;
  
  Session(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_clocktower_plugin_v1_SessionRequest, _clocktower_plugin_v1_SessionEvent__Output>;
  Session(options?: grpc.CallOptions): grpc.ClientDuplexStream<_clocktower_plugin_v1_SessionRequest, _clocktower_plugin_v1_SessionEvent__Output>;
  session(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_clocktower_plugin_v1_SessionRequest, _clocktower_plugin_v1_SessionEvent__Output>;
  session(options?: grpc.CallOptions): grpc.ClientDuplexStream<_clocktower_plugin_v1_SessionRequest, _clocktower_plugin_v1_SessionEvent__Output>;
  
  Stop(argument: _clocktower_plugin_v1_StopRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_plugin_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  Stop(argument: _clocktower_plugin_v1_StopRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_clocktower_plugin_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  Stop(argument: _clocktower_plugin_v1_StopRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_plugin_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  Stop(argument: _clocktower_plugin_v1_StopRequest, callback: grpc.requestCallback<_clocktower_plugin_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  stop(argument: _clocktower_plugin_v1_StopRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_plugin_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  stop(argument: _clocktower_plugin_v1_StopRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_clocktower_plugin_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  stop(argument: _clocktower_plugin_v1_StopRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_plugin_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  stop(argument: _clocktower_plugin_v1_StopRequest, callback: grpc.requestCallback<_clocktower_plugin_v1_StopResponse__Output>): grpc.ClientUnaryCall;
  
  Validate(argument: _clocktower_plugin_v1_ValidateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_plugin_v1_ValidateResponse__Output>): grpc.ClientUnaryCall;
  Validate(argument: _clocktower_plugin_v1_ValidateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_clocktower_plugin_v1_ValidateResponse__Output>): grpc.ClientUnaryCall;
  Validate(argument: _clocktower_plugin_v1_ValidateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_plugin_v1_ValidateResponse__Output>): grpc.ClientUnaryCall;
  Validate(argument: _clocktower_plugin_v1_ValidateRequest, callback: grpc.requestCallback<_clocktower_plugin_v1_ValidateResponse__Output>): grpc.ClientUnaryCall;
  validate(argument: _clocktower_plugin_v1_ValidateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_plugin_v1_ValidateResponse__Output>): grpc.ClientUnaryCall;
  validate(argument: _clocktower_plugin_v1_ValidateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_clocktower_plugin_v1_ValidateResponse__Output>): grpc.ClientUnaryCall;
  validate(argument: _clocktower_plugin_v1_ValidateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_clocktower_plugin_v1_ValidateResponse__Output>): grpc.ClientUnaryCall;
  validate(argument: _clocktower_plugin_v1_ValidateRequest, callback: grpc.requestCallback<_clocktower_plugin_v1_ValidateResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface ExecutorHandlers extends grpc.UntypedServiceImplementation {
  Describe: grpc.handleUnaryCall<_clocktower_plugin_v1_DescribeRequest__Output, _clocktower_plugin_v1_DescribeResponse>;
  
  Execute: grpc.handleServerStreamingCall<_clocktower_plugin_v1_ExecuteRequest__Output, _clocktower_plugin_v1_ExecuteEvent>;
  
  Session: grpc.handleBidiStreamingCall<_clocktower_plugin_v1_SessionRequest__Output, _clocktower_plugin_v1_SessionEvent>;
  
  Stop: grpc.handleUnaryCall<_clocktower_plugin_v1_StopRequest__Output, _clocktower_plugin_v1_StopResponse>;
  
  Validate: grpc.handleUnaryCall<_clocktower_plugin_v1_ValidateRequest__Output, _clocktower_plugin_v1_ValidateResponse>;
  
}

export interface ExecutorDefinition extends grpc.ServiceDefinition {
  Describe: MethodDefinition<_clocktower_plugin_v1_DescribeRequest, _clocktower_plugin_v1_DescribeResponse, _clocktower_plugin_v1_DescribeRequest__Output, _clocktower_plugin_v1_DescribeResponse__Output>
  Execute: MethodDefinition<_clocktower_plugin_v1_ExecuteRequest, _clocktower_plugin_v1_ExecuteEvent, _clocktower_plugin_v1_ExecuteRequest__Output, _clocktower_plugin_v1_ExecuteEvent__Output>
  Session: MethodDefinition<_clocktower_plugin_v1_SessionRequest, _clocktower_plugin_v1_SessionEvent, _clocktower_plugin_v1_SessionRequest__Output, _clocktower_plugin_v1_SessionEvent__Output>
  Stop: MethodDefinition<_clocktower_plugin_v1_StopRequest, _clocktower_plugin_v1_StopResponse, _clocktower_plugin_v1_StopRequest__Output, _clocktower_plugin_v1_StopResponse__Output>
  Validate: MethodDefinition<_clocktower_plugin_v1_ValidateRequest, _clocktower_plugin_v1_ValidateResponse, _clocktower_plugin_v1_ValidateRequest__Output, _clocktower_plugin_v1_ValidateResponse__Output>
}
