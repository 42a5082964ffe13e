// The shapes Raft persists and exchanges. Shared by the consensus core, the
// durable log (server/storage) and the node driver (server/cluster).

/** What kind of payload an entry carries. Append-only numbering. */
export const EntryType = {
  /** An opaque command for the replicated state machine. */
  Normal: 0,
  /** A membership change (data is an encoded ConfChange). */
  ConfChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What a server must remember across restarts besides its log. */
export interface HardState {
  readonly term: number;
  /** The server voted for in `term`, or "" for none. */
  readonly vote: string;
  readonly commit: number;
}

export const emptyHardState: HardState = { term: 0, vote: '', commit: 0 };

/** Voters and learners (non-voters) of the cluster. */
export interface ConfState {
  readonly voters: readonly string[];
  readonly learners: readonly string[];
}

export interface SnapshotMeta {
  /** The last index the snapshot covers, and its term. */
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}
