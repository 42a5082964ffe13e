// Original file: proto/raft.proto


export interface SnapshotAck {
}

export interface SnapshotAck__Output {
}
