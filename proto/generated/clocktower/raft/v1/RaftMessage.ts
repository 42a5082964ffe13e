// Original file: proto/raft.proto

import type { MessageType as _clocktower_raft_v1_MessageType, MessageType__Output as _clocktower_raft_v1_MessageType__Output } from '../../../clocktower/raft/v1/MessageType.js';
import type { Entry as _clocktower_raft_v1_Entry, Entry__Output as _clocktower_raft_v1_Entry__Output } from '../../../clocktower/raft/v1/Entry.js';
import type { Long } from '@grpc/proto-loader';

export interface RaftMessage {
  'type'?: (_clocktower_raft_v1_MessageType);
  'from'?: (string);
  'to'?: (string);
  'term'?: (number | string | Long);
  'log_term'?: (number | string | Long);
  'index'?: (number | string | Long);
  'entries'?: (_clocktower_raft_v1_Entry)[];
  'commit'?: (number | string | Long);
  'reject'?: (boolean);
  'reject_hint'?: (number | string | Long);
  'reject_hint_term'?: (number | string | Long);
  'context'?: (string);
}

export interface RaftMessage__Output {
  'type': (_clocktower_raft_v1_MessageType__Output);
  'from': (string);
  'to': (string);
  'term': (string);
  'log_term': (string);
  'index': (string);
  'entries': (_clocktower_raft_v1_Entry__Output)[];
  'commit': (string);
  'reject': (boolean);
  'reject_hint': (string);
  'reject_hint_term': (string);
  'context': (string);
}
