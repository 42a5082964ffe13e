import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { DescribeRequest as _clocktower_plugin_v1_DescribeRequest, DescribeRequest__Output as _clocktower_plugin_v1_DescribeRequest__Output } from './clocktower/plugin/v1/DescribeRequest.js';
import type { DescribeResponse as _clocktower_plugin_v1_DescribeResponse, DescribeResponse__Output as _clocktower_plugin_v1_DescribeResponse__Output } from './clocktower/plugin/v1/DescribeResponse.js';
import type { ExecuteEvent as _clocktower_plugin_v1_ExecuteEvent, ExecuteEvent__Output as _clocktower_plugin_v1_ExecuteEvent__Output } from './clocktower/plugin/v1/ExecuteEvent.js';
import type { ExecuteRequest as _clocktower_plugin_v1_ExecuteRequest, ExecuteRequest__Output as _clocktower_plugin_v1_ExecuteRequest__Output } from './clocktower/plugin/v1/ExecuteRequest.js';
import type { ExecuteResult as _clocktower_plugin_v1_ExecuteResult, ExecuteResult__Output as _clocktower_plugin_v1_ExecuteResult__Output } from './clocktower/plugin/v1/ExecuteResult.js';
import type { Execution as _clocktower_plugin_v1_Execution, Execution__Output as _clocktower_plugin_v1_Execution__Output } from './clocktower/plugin/v1/Execution.js';
import type { ExecutorClient as _clocktower_plugin_v1_ExecutorClient, ExecutorDefinition as _clocktower_plugin_v1_ExecutorDefinition } from './clocktower/plugin/v1/Executor.js';
import type { OutputChunk as _clocktower_plugin_v1_OutputChunk, OutputChunk__Output as _clocktower_plugin_v1_OutputChunk__Output } from './clocktower/plugin/v1/OutputChunk.js';
import type { OutputCredit as _clocktower_plugin_v1_OutputCredit, OutputCredit__Output as _clocktower_plugin_v1_OutputCredit__Output } from './clocktower/plugin/v1/OutputCredit.js';
import type { ProcessRequest as _clocktower_plugin_v1_ProcessRequest, ProcessRequest__Output as _clocktower_plugin_v1_ProcessRequest__Output } from './clocktower/plugin/v1/ProcessRequest.js';
import type { ProcessResponse as _clocktower_plugin_v1_ProcessResponse, ProcessResponse__Output as _clocktower_plugin_v1_ProcessResponse__Output } from './clocktower/plugin/v1/ProcessResponse.js';
import type { ProcessorClient as _clocktower_plugin_v1_ProcessorClient, ProcessorDefinition as _clocktower_plugin_v1_ProcessorDefinition } from './clocktower/plugin/v1/Processor.js';
import type { SessionCommand as _clocktower_plugin_v1_SessionCommand, SessionCommand__Output as _clocktower_plugin_v1_SessionCommand__Output } from './clocktower/plugin/v1/SessionCommand.js';
import type { SessionEvent as _clocktower_plugin_v1_SessionEvent, SessionEvent__Output as _clocktower_plugin_v1_SessionEvent__Output } from './clocktower/plugin/v1/SessionEvent.js';
import type { SessionExecute as _clocktower_plugin_v1_SessionExecute, SessionExecute__Output as _clocktower_plugin_v1_SessionExecute__Output } from './clocktower/plugin/v1/SessionExecute.js';
import type { SessionItem as _clocktower_plugin_v1_SessionItem, SessionItem__Output as _clocktower_plugin_v1_SessionItem__Output } from './clocktower/plugin/v1/SessionItem.js';
import type { SessionRequest as _clocktower_plugin_v1_SessionRequest, SessionRequest__Output as _clocktower_plugin_v1_SessionRequest__Output } from './clocktower/plugin/v1/SessionRequest.js';
import type { StopRequest as _clocktower_plugin_v1_StopRequest, StopRequest__Output as _clocktower_plugin_v1_StopRequest__Output } from './clocktower/plugin/v1/StopRequest.js';
import type { StopResponse as _clocktower_plugin_v1_StopResponse, StopResponse__Output as _clocktower_plugin_v1_StopResponse__Output } from './clocktower/plugin/v1/StopResponse.js';
import type { ValidateRequest as _clocktower_plugin_v1_ValidateRequest, ValidateRequest__Output as _clocktower_plugin_v1_ValidateRequest__Output } from './clocktower/plugin/v1/ValidateRequest.js';
import type { ValidateResponse as _clocktower_plugin_v1_ValidateResponse, ValidateResponse__Output as _clocktower_plugin_v1_ValidateResponse__Output } from './clocktower/plugin/v1/ValidateResponse.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  clocktower: {
    plugin: {
      v1: {
        DescribeRequest: MessageTypeDefinition<_clocktower_plugin_v1_DescribeRequest, _clocktower_plugin_v1_DescribeRequest__Output>
        DescribeResponse: MessageTypeDefinition<_clocktower_plugin_v1_DescribeResponse, _clocktower_plugin_v1_DescribeResponse__Output>
        ExecuteEvent: MessageTypeDefinition<_clocktower_plugin_v1_ExecuteEvent, _clocktower_plugin_v1_ExecuteEvent__Output>
        ExecuteRequest: MessageTypeDefinition<_clocktower_plugin_v1_ExecuteRequest, _clocktower_plugin_v1_ExecuteRequest__Output>
        ExecuteResult: MessageTypeDefinition<_clocktower_plugin_v1_ExecuteResult, _clocktower_plugin_v1_ExecuteResult__Output>
        Execution: MessageTypeDefinition<_clocktower_plugin_v1_Execution, _clocktower_plugin_v1_Execution__Output>
        Executor: SubtypeConstructor<typeof grpc.Client, _clocktower_plugin_v1_ExecutorClient> & { service: _clocktower_plugin_v1_ExecutorDefinition }
        OutputChunk: MessageTypeDefinition<_clocktower_plugin_v1_OutputChunk, _clocktower_plugin_v1_OutputChunk__Output>
        OutputCredit: MessageTypeDefinition<_clocktower_plugin_v1_OutputCredit, _clocktower_plugin_v1_OutputCredit__Output>
        ProcessRequest: MessageTypeDefinition<_clocktower_plugin_v1_ProcessRequest, _clocktower_plugin_v1_ProcessRequest__Output>
        ProcessResponse: MessageTypeDefinition<_clocktower_plugin_v1_ProcessResponse, _clocktower_plugin_v1_ProcessResponse__Output>
        Processor: SubtypeConstructor<typeof grpc.Client, _clocktower_plugin_v1_ProcessorClient> & { service: _clocktower_plugin_v1_ProcessorDefinition }
        SessionCommand: MessageTypeDefinition<_clocktower_plugin_v1_SessionCommand, _clocktower_plugin_v1_SessionCommand__Output>
        SessionEvent: MessageTypeDefinition<_clocktower_plugin_v1_SessionEvent, _clocktower_plugin_v1_SessionEvent__Output>
        SessionExecute: MessageTypeDefinition<_clocktower_plugin_v1_SessionExecute, _clocktower_plugin_v1_SessionExecute__Output>
        SessionItem: MessageTypeDefinition<_clocktower_plugin_v1_SessionItem, _clocktower_plugin_v1_SessionItem__Output>
        SessionRequest: MessageTypeDefinition<_clocktower_plugin_v1_SessionRequest, _clocktower_plugin_v1_SessionRequest__Output>
        StopRequest: MessageTypeDefinition<_clocktower_plugin_v1_StopRequest, _clocktower_plugin_v1_StopRequest__Output>
        StopResponse: MessageTypeDefinition<_clocktower_plugin_v1_StopResponse, _clocktower_plugin_v1_StopResponse__Output>
        ValidateRequest: MessageTypeDefinition<_clocktower_plugin_v1_ValidateRequest, _clocktower_plugin_v1_ValidateRequest__Output>
        ValidateResponse: MessageTypeDefinition<_clocktower_plugin_v1_ValidateResponse, _clocktower_plugin_v1_ValidateResponse__Output>
      }
    }
  }
}

