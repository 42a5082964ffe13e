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

/** A membership change, one server at a time. */
export interface ConfChange {
  /**
   * addVoter: add a voter, or promote a learner to voter.
   * addLearner: add a non-voter that receives the log (to catch up before promotion).
   * remove: remove a voter or learner.
   */
  readonly type: 'addVoter' | 'addLearner' | 'remove';
  readonly node: string;
  /** Where the node listens (opaque to the core; the driver keeps it). */
  readonly address: string;
}

export type MessageType =
  | 'app' // append entries (leader -> follower)
  | 'appResp'
  | 'heartbeat'
  | 'heartbeatResp'
  | 'vote'
  | 'voteResp'
  | 'preVote'
  | 'preVoteResp'
  | 'snap' // install snapshot (the transport streams it in chunks)
  | 'timeoutNow' // leadership transfer: campaign now
  | 'readIndex' // follower -> leader: asks for a read index
  | 'readIndexResp';

export interface Message {
  readonly type: MessageType;
  readonly from: string;
  readonly to: string;
  readonly term: number;
  /** app: term of the entry before `entries`; vote/preVote: candidate's last log term. */
  readonly logTerm: number;
  /** app: index of the entry before `entries`; appResp: last index accepted or rejected; vote: candidate's last index; readIndexResp: the read index. */
  readonly index: number;
  readonly entries: readonly Entry[];
  /** Leader's commit index (app, heartbeat). */
  readonly commit: number;
  readonly reject: boolean;
  /** appResp with reject: the follower's hint for fast backtracking (its last index, or a conflict index). */
  readonly rejectHint: number;
  /** appResp with reject: the term of the follower's entry at rejectHint (0 if none). */
  readonly rejectHintTerm: number;
  /** snap only. */
  readonly snapshot: Snapshot | null;
  /** Opaque request id: readIndex/readIndexResp and the heartbeats that confirm them; vote with a transfer. */
  readonly context: string;
}

/** Role of a server in its current term. */
export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** Volatile state the driver may want to observe (not persisted). */
export interface SoftState {
  readonly leader: string | null;
  readonly role: Role;
}

/** The answer to a readIndex() request: the read may be served once `index` is applied. */
export interface ReadState {
  readonly requestId: string;
  readonly index: number;
}

/**
 * What the core asks the driver to do, in this order:
 * 1. persist `snapshot` (if any), `entries` (replacing any stored entries at
 *    the same indexes and dropping those after) and `hardState` (if any), with fsync;
 * 2. send `messages`;
 * 3. restore `snapshot` into the state machine (if any), then apply `committed` in order;
 * 4. call advance(ready).
 */
export interface Ready {
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
  readonly messages: readonly Message[];
  readonly committed: readonly Entry[];
  readonly readStates: readonly ReadState[];
}

/** What a server restarts from: its persisted hard state, snapshot and log. */
export interface RestoredState {
  readonly hardState: HardState;
  /** The last snapshot; null if none. Its conf is the membership at that point. */
  readonly snapshot: Snapshot | null;
  /** Persisted entries after the snapshot, contiguous. */
  readonly entries: readonly Entry[];
  /**
   * Membership as of `applied`: the snapshot's conf (or, for a new cluster, the
   * initial voters). Committed ConfChange entries after it come back in the
   * first Ready, and applying them updates the membership again.
   */
  readonly conf: ConfState;
  /** Entries up to this index have been applied to the state machine (at least the snapshot's index). */
  readonly applied: number;
}

export interface RaftConfig {
  readonly id: string;
  /** Ticks without hearing from a leader before a follower campaigns (randomised in [n, 2n)). */
  readonly electionTicks: number;
  /** Ticks between a leader's heartbeats. */
  readonly heartbeatTicks: number;
  /** A seeded random source in [0, 1): the core draws nothing else. */
  readonly random: () => number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Most bytes of entries in one append message (default 1 MiB). */
  readonly maxBytesPerMessage?: number;
  /** Most append messages in flight to one follower (default 256). */
  readonly maxInflight?: number;
}
