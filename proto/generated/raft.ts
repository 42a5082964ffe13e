import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { ConfState as _clocktower_raft_v1_ConfState, ConfState__Output as _clocktower_raft_v1_ConfState__Output } from './clocktower/raft/v1/ConfState.js';
import type { Entry as _clocktower_raft_v1_Entry, Entry__Output as _clocktower_raft_v1_Entry__Output } from './clocktower/raft/v1/Entry.js';
import type { RaftClient as _clocktower_raft_v1_RaftClient, RaftDefinition as _clocktower_raft_v1_RaftDefinition } from './clocktower/raft/v1/Raft.js';
import type { RaftMessage as _clocktower_raft_v1_RaftMessage, RaftMessage__Output as _clocktower_raft_v1_RaftMessage__Output } from './clocktower/raft/v1/RaftMessage.js';
import type { SendAck as _clocktower_raft_v1_SendAck, SendAck__Output as _clocktower_raft_v1_SendAck__Output } from './clocktower/raft/v1/SendAck.js';
import type { SnapshotAck as _clocktower_raft_v1_SnapshotAck, SnapshotAck__Output as _clocktower_raft_v1_SnapshotAck__Output } from './clocktower/raft/v1/SnapshotAck.js';
import type { SnapshotChunk as _clocktower_raft_v1_SnapshotChunk, SnapshotChunk__Output as _clocktower_raft_v1_SnapshotChunk__Output } from './clocktower/raft/v1/SnapshotChunk.js';
import type { SnapshotHeader as _clocktower_raft_v1_SnapshotHeader, SnapshotHeader__Output as _clocktower_raft_v1_SnapshotHeader__Output } from './clocktower/raft/v1/SnapshotHeader.js';
import type { SnapshotMeta as _clocktower_raft_v1_SnapshotMeta, SnapshotMeta__Output as _clocktower_raft_v1_SnapshotMeta__Output } from './clocktower/raft/v1/SnapshotMeta.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  clocktower: {
    raft: {
      v1: {
        ConfState: MessageTypeDefinition<_clocktower_raft_v1_ConfState, _clocktower_raft_v1_ConfState__Output>
        Entry: MessageTypeDefinition<_clocktower_raft_v1_Entry, _clocktower_raft_v1_Entry__Output>
        EntryType: EnumTypeDefinition
        MessageType: EnumTypeDefinition
        Raft: SubtypeConstructor<typeof grpc.Client, _clocktower_raft_v1_RaftClient> & { service: _clocktower_raft_v1_RaftDefinition }
        RaftMessage: MessageTypeDefinition<_clocktower_raft_v1_RaftMessage, _clocktower_raft_v1_RaftMessage__Output>
        SendAck: MessageTypeDefinition<_clocktower_raft_v1_SendAck, _clocktower_raft_v1_SendAck__Output>
        SnapshotAck: MessageTypeDefinition<_clocktower_raft_v1_SnapshotAck, _clocktower_raft_v1_SnapshotAck__Output>
        SnapshotChunk: MessageTypeDefinition<_clocktower_raft_v1_SnapshotChunk, _clocktower_raft_v1_SnapshotChunk__Output>
        SnapshotHeader: MessageTypeDefinition<_clocktower_raft_v1_SnapshotHeader, _clocktower_raft_v1_SnapshotHeader__Output>
        SnapshotMeta: MessageTypeDefinition<_clocktower_raft_v1_SnapshotMeta, _clocktower_raft_v1_SnapshotMeta__Output>
      }
    }
  }
}

