// The leader's view of one follower's log (etcd-io/raft's tracker.Progress):
// what it has (match), what to send next (next), and how to send it.
//
// probe:     one append at a time until the follower's position is known;
// replicate: appends pipelined optimistically, at most `maxInflight` unacked;
// snapshot:  a snapshot is on its way; appends wait for it.

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** probe: an append was sent and not yet answered (paused until a reply or heartbeat ack). */
  probeSent = false;
  /** snapshot: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** Last index of each unacked append, oldest first (replicate state). */
  private readonly inflights: number[] = [];

  constructor(next: number, readonly maxInflight: number, public isLearner: boolean) {
    this.next = next;
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.length = 0;
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(index: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = index;
  }

  /** An append up to `index` was acknowledged; false if it told us nothing new. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * The follower rejected an append at `rejected`; `matchHint` is the highest
   * index it may share with us. False if the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Record an append whose last entry is `last` as sent. */
  sentEntries(last: number, count: number): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next = last + 1;
        this.inflights.push(last);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  freeInflightsTo(index: number): void {
    let i = 0;
    while (i < this.inflights.length && (this.inflights[i] ?? 0) <= index) i++;
    this.inflights.splice(0, i);
  }

  freeFirstInflight(): void {
    this.inflights.shift();
  }

  inflightsFull(): boolean {
    return this.inflights.length >= this.maxInflight;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe': return this.probeSent;
      case 'replicate': return this.inflightsFull();
      case 'snapshot': return true;
    }
  }
}
