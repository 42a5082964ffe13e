// What the rest of the server sees of the cluster: propose an entry and get
// the state machine's answer; who leads; who the members are.

import type { MemberAddress } from './member-address.js';

export interface Member {
  readonly name: string;
  readonly address: string;
  readonly role: 'leader' | 'follower' | 'learner';
  readonly voter: boolean;
  readonly status: 'alive' | 'failed';
}

/** The state machine the node drives: it applies committed entries in order. */
export interface ReplicatedStateMachine<R> {
  /**
   * `own`: this server led the Raft term of the entry, in this process, so
   * it is the one server that proposed it (for counting an effect once
   * across the cluster; a replay after a restart is never `own`).
   */
  apply(data: Uint8Array, index: number, own: boolean): R;
  snapshot(): Uint8Array;
  /**
   * The state as it is at the call, serialised one slice per next() (the
   * caller gives the event loop back between slices); commands applied
   * meanwhile are not in it; the iterator's value is the snapshot.
   * Optional: without it, snapshot() is used.
   */
  snapshotSlices?(): Iterator<void, Uint8Array>;
  restore(data: Uint8Array): void;
}

export interface ClusterNode<R> {
  readonly nodeName: string;
  /** Resolves with the state machine's result once the entry is committed and applied. */
  propose(data: Uint8Array): Promise<R>;
  isLeader(): boolean;
  leaderName(): string | null;
  members(): Member[];
  /** Called with true when this node becomes leader, false when it stops being one. */
  onLeadershipChange(listener: (leader: boolean) => void): () => void;
  close(): Promise<void>;
}

/**
 * What a server composes on: either command log (the built-in Raft, or an
 * existing etcd) with members' addresses and linearizable reads.
 */
export interface ServerClusterNode<R> extends ClusterNode<R> {
  /** The member's RPC and API addresses, if known. */
  addressOf(name: string): MemberAddress | null;
  /** Resolves once everything committed before the call is applied here. */
  readBarrier(): Promise<void>;
}

export class ClusterError extends Error {
  override readonly name = 'ClusterError';
  constructor(
    readonly code: 'CT_CLUSTER_NOT_LEADER' | 'CT_CLUSTER_CLOSED' | 'CT_CLUSTER_STORAGE' | 'CT_CLUSTER_ENTRY_TOO_LARGE',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The state machine's snapshot as it is at the call: serialised one slice per
 * `turn` (which calls its function back later, e.g. on the next turn of the
 * event loop) when the state machine can, else at once.
 */
export function snapshotInSlices<R>(sm: ReplicatedStateMachine<R>, turn: (next: () => void) => void): Promise<Uint8Array> {
  if (sm.snapshotSlices === undefined) return Promise.resolve(sm.snapshot());
  const slices = sm.snapshotSlices();
  return new Promise((resolve, reject) => {
    const step = () => {
      try {
        const next = slices.next();
        if (next.done === true) resolve(next.value);
        else turn(step);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    };
    step();
  });
}
