// The Raft consensus core, shaped like etcd-io/raft: a deterministic state
// machine with no clock, no I/O and no ambient randomness. Time is tick(),
// input is step(message) and propose(); output is ready(): what to persist,
// what to send, what to apply. The driver acknowledges with advance().
//
// Included: leader election with pre-vote and check-quorum (and leader
// leases for votes), pipelined and batched replication with per-follower
// flow control, fast backtracking by term, commit only in the current term,
// snapshots for followers behind the log, membership change one server at a
// time (voters and learners), leadership transfer, and ReadIndex reads.
// A new cluster starts from bootstrapState() (bootstrap.ts).

import { decodeConfChange, encodeConfChange } from './conf-change.js';
import { majorityIndex, voteResult } from './quorum.js';
import { Progress } from './progress.js';
import { RaftInvariantError, RaftLog } from './raft-log.js';
import type {
  ConfChange, ConfState, Entry, HardState, Message, MessageType, RaftConfig, Ready, ReadState, RestoredState, Role, Snapshot, SoftState,
} from './types.js';
import { EntryType } from './types.js';

export { encodeConfChange, decodeConfChange } from './conf-change.js';
export { RaftInvariantError } from './raft-log.js';

const transferContext = 'transfer';
const noEntries: readonly Entry[] = [];

interface PendingRead {
  readonly requestId: string;
  readonly from: string;
  readonly index: number;
  readonly acks: Set<string>;
}

export class RaftCore {
  readonly id: string;
  private currentTerm: number;
  private vote: string;
  private currentRole: Role = 'follower';
  private leaderId: string | null = null;
  private readonly log: RaftLog;

  private voters = new Set<string>();
  private learners = new Set<string>();
  /**
   * Membership follows the log (Raft thesis §4.1): a server uses the latest
   * ConfChange in its log, committed or not, and falls back when a conflict
   * removes it. Taking effect only once applied is not safe across restarts:
   * a server that comes back knowing an old commit index would use a
   * membership two changes old and could win an election without a
   * committed entry. `baseConf` is the membership at the log's snapshot;
   * `confIndex`/`confTerm` name the entry the current membership comes from.
   */
  private baseConf: ConfState;
  private confIndex = 0;
  private confTerm = 0;
  private progress = new Map<string, Progress>();
  private readonly votes = new Map<string, boolean>();

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private readonly electionTicks: number;
  private readonly heartbeatTicks: number;
  private readonly maxBytes: number;
  private readonly maxInflight: number;

  /** The index of the last ConfChange proposed; another may be proposed once it is applied. */
  private pendingConfIndex = 0;
  private leadTransferee: string | null = null;
  /** ReadIndex requests waiting for a heartbeat quorum, oldest first. */
  private readonly pendingReads: PendingRead[] = [];
  /** ReadIndex requests that arrived before this leader committed an entry in its term. */
  private readonly readsBeforeCommit: { requestId: string; from: string }[] = [];

  private msgs: Message[] = [];
  /** Proposals were appended since the last Ready: send them when it is taken. */
  private appendPending = false;
  private readStates: ReadState[] = [];
  private prevHardState: HardState;
  private prevSoftState: SoftState = { leader: null, role: 'follower' };

  constructor(private readonly config: RaftConfig, restored: RestoredState) {
    this.id = config.id;
    this.electionTicks = config.electionTicks;
    this.heartbeatTicks = config.heartbeatTicks;
    this.maxBytes = config.maxBytesPerMessage ?? 1024 * 1024;
    this.maxInflight = config.maxInflight ?? 256;
    if (this.heartbeatTicks >= this.electionTicks) throw new RaftInvariantError('heartbeatTicks must be less than electionTicks');
    this.log = new RaftLog(restored.snapshot, restored.entries, restored.hardState.commit, restored.applied);
    this.currentTerm = restored.hardState.term;
    this.vote = restored.hardState.vote;
    this.prevHardState = restored.hardState;
    this.baseConf = restored.conf;
    this.rebuildConf();
    this.becomeFollower(this.currentTerm, null);
  }

  get term(): number { return this.currentTerm; }
  get role(): Role { return this.currentRole; }
  get leader(): string | null { return this.leaderId; }
  get commitIndex(): number { return this.log.committed; }
  get appliedIndex(): number { return this.log.applied; }
  lastIndex(): number { return this.log.lastIndex(); }
  conf(): ConfState { return { voters: [...this.voters].sort(), learners: [...this.learners].sort() }; }

  /** Match index of each member as this leader sees it (empty when not leader). */
  replicationStatus(): ReadonlyMap<string, number> {
    if (this.currentRole !== 'leader') return new Map();
    return new Map([...this.progress].map(([id, pr]) => [id, pr.match]));
  }

  // ---------------------------------------------------------------- time

  tick(): void {
    if (this.currentRole === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.currentTerm, null);
        return;
      }
      this.leadTransferee = null; // a transfer that did not finish in an election timeout is abandoned
    }
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat(this.pendingReads.at(-1)?.requestId ?? '');
    }
  }

  /** Leader: did a quorum of voters talk to us since the last round? Resets the marks. */
  private quorumActive(): boolean {
    const active = new Map<string, boolean>();
    for (const [id, pr] of this.progress) {
      if (id === this.id || pr.recentActive) active.set(id, true);
      pr.recentActive = false;
    }
    return voteResult(this.voters, active) === 'won';
  }

  // ---------------------------------------------------------------- roles

  private promotable(): boolean {
    return this.voters.has(this.id);
  }

  private reset(term: number): void {
    if (this.currentTerm !== term) {
      this.currentTerm = term;
      this.vote = '';
    }
    this.leaderId = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTicks + Math.floor(this.config.random() * this.electionTicks);
    this.leadTransferee = null;
    this.votes.clear();
    this.pendingConfIndex = 0;
    this.pendingReads.length = 0;
    this.readsBeforeCommit.length = 0;
    const last = this.log.lastIndex();
    for (const [id, pr] of this.progress) {
      const fresh = new Progress(last + 1, this.maxInflight, pr.isLearner);
      if (id === this.id) fresh.match = last;
      this.progress.set(id, fresh);
    }
  }

  private becomeFollower(term: number, leader: string | null): void {
    this.reset(term);
    this.currentRole = 'follower';
    this.leaderId = leader;
  }

  private becomePreCandidate(): void {
    // Pre-vote changes neither term nor vote: a partitioned server that keeps
    // pre-campaigning never disturbs the cluster when it comes back.
    this.votes.clear();
    this.currentRole = 'preCandidate';
    this.leaderId = null;
  }

  private becomeCandidate(): void {
    this.reset(this.currentTerm + 1);
    this.vote = this.id;
    this.currentRole = 'candidate';
  }

  private becomeLeader(): void {
    this.reset(this.currentTerm);
    this.currentRole = 'leader';
    this.leaderId = this.id;
    // A no-op entry in the new term: committing it commits everything before
    // it, and until it commits no conf change or read is accepted.
    this.appendEntries([{ type: EntryType.Normal, data: new Uint8Array(0) }]);
    this.pendingConfIndex = this.log.lastIndex();
    this.broadcastAppend();
  }

  private hup(transfer: boolean): void {
    if (this.currentRole === 'leader' || !this.promotable()) return;
    // Do not campaign with unapplied conf changes: the conf we would lead may be stale.
    const unapplied = this.log.slice(this.log.applying + 1, this.log.committed + 1) ?? [];
    if (unapplied.some((e) => e.type === EntryType.ConfChange)) return;
    if (this.config.preVote && !transfer) this.campaign('preVote', false);
    else this.campaign('vote', transfer);
  }

  private campaign(kind: 'preVote' | 'vote', transfer: boolean): void {
    let term: number;
    if (kind === 'preVote') {
      this.becomePreCandidate();
      term = this.currentTerm + 1;
    } else {
      this.becomeCandidate();
      term = this.currentTerm;
    }
    this.votes.set(this.id, true);
    if (voteResult(this.voters, this.votes) === 'won') {
      if (kind === 'preVote') this.campaign('vote', false);
      else this.becomeLeader();
      return;
    }
    for (const to of this.voters) {
      if (to === this.id) continue;
      this.send({
        type: kind, to, term, logTerm: this.log.lastTerm(), index: this.log.lastIndex(), context: transfer ? transferContext : '',
      });
    }
  }

  /** Start an election now instead of waiting for the election timeout (e.g. a server that is the only voter). */
  startElection(): void {
    this.hup(false);
  }

  // ---------------------------------------------------------------- input

  step(m: Message): void {
    if (m.to !== this.id) return;
    if (m.term > this.currentTerm) {
      if (m.type === 'vote' || m.type === 'preVote') {
        const force = m.context === transferContext;
        const inLease = this.config.checkQuorum && this.leaderId !== null && this.electionElapsed < this.electionTicks;
        // A server that heard from a leader recently ignores candidates: a
        // server cut off and come back cannot depose a healthy leader.
        if (!force && inLease) return;
      }
      if (m.type === 'preVote') {
        // Never change term on a pre-vote request.
      } else if (m.type === 'preVoteResp' && !m.reject) {
        // The term we asked for; we move to it when a quorum agrees.
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, null);
      }
    } else if (m.term < this.currentTerm) {
      if (this.config.checkQuorum || this.config.preVote) {
        if (m.type === 'app' || m.type === 'heartbeat') {
          // A stale leader (perhaps cut off and back): tell it our term so it steps down.
          this.send({ type: 'appResp', to: m.from, term: this.currentTerm });
        } else if (m.type === 'preVote') {
          this.send({ type: 'preVoteResp', to: m.from, term: this.currentTerm, reject: true });
        }
      }
      return;
    }

    if (m.type === 'vote' || m.type === 'preVote') {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.currentRole) {
      case 'leader': this.stepLeader(m); break;
      case 'candidate':
      case 'preCandidate': this.stepCandidate(m); break;
      case 'follower': this.stepFollower(m); break;
    }
  }

  private handleVoteRequest(m: Message): void {
    const canVote = this.vote === m.from
      || (this.vote === '' && this.leaderId === null)
      || (m.type === 'preVote' && m.term > this.currentTerm);
    const respType: MessageType = m.type === 'vote' ? 'voteResp' : 'preVoteResp';
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // A granted pre-vote answers in the requested term, so the candidate counts it.
      this.send({ type: respType, to: m.from, term: m.term });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, to: m.from, term: this.currentTerm, reject: true });
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'app': this.becomeFollower(m.term, m.from); this.handleAppend(m); return;
      case 'heartbeat': this.becomeFollower(m.term, m.from); this.handleHeartbeat(m); return;
      case 'snap': this.becomeFollower(m.term, m.from); this.handleSnapshot(m); return;
      case 'voteResp':
      case 'preVoteResp': {
        const mine = this.currentRole === 'preCandidate' ? 'preVoteResp' : 'voteResp';
        if (m.type !== mine) return;
        this.votes.set(m.from, !m.reject);
        const result = voteResult(this.voters, this.votes);
        if (result === 'won') {
          if (this.currentRole === 'preCandidate') this.campaign('vote', false);
          else this.becomeLeader();
        } else if (result === 'lost') {
          this.becomeFollower(this.currentTerm, null);
        }
        return;
      }
      default: return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'app':
        this.electionElapsed = 0;
        this.leaderId = m.from;
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.leaderId = m.from;
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.electionElapsed = 0;
        this.leaderId = m.from;
        this.handleSnapshot(m);
        return;
      case 'timeoutNow':
        // The leader hands over: campaign at once, skipping pre-vote and leases.
        this.hup(true);
        return;
      case 'readIndexResp':
        this.readStates.push({ requestId: m.context, index: m.index });
        return;
      default:
        return;
    }
  }

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send({ type: 'appResp', to: m.from, term: this.currentTerm, index: this.log.committed });
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== null && m.entries.length > 0) this.syncConf(m.entries);
    if (lastNew !== null) {
      this.send({ type: 'appResp', to: m.from, term: this.currentTerm, index: lastNew });
      return;
    }
    // Fast backtracking: point the leader at the last entry that can possibly
    // match, skipping a whole term of conflicting entries per round trip.
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send({
      type: 'appResp', to: m.from, term: this.currentTerm, index: m.index, reject: true,
      rejectHint: hint, rejectHintTerm: this.log.term(hint) ?? 0,
    });
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send({ type: 'heartbeatResp', to: m.from, term: this.currentTerm, context: m.context });
  }

  private handleSnapshot(m: Message): void {
    const snap = m.snapshot;
    if (snap === null) return;
    const { index, term } = snap.meta;
    if (index <= this.log.committed) {
      this.send({ type: 'appResp', to: m.from, term: this.currentTerm, index: this.log.committed });
      return;
    }
    if (this.log.matchTerm(index, term)) {
      // We already have the entries it covers: just move commit forward. Reply
      // with the commit index, not lastIndex(): entries after the snapshot may
      // not match the leader's (etcd-io/raft does the same).
      this.log.commitTo(index);
      this.send({ type: 'appResp', to: m.from, term: this.currentTerm, index: this.log.committed });
      return;
    }
    this.log.restore(snap);
    this.baseConf = snap.meta.conf;
    this.rebuildConf();
    this.send({ type: 'appResp', to: m.from, term: this.currentTerm, index: this.log.lastIndex() });
  }

  private stepLeader(m: Message): void {
    const pr = this.progress.get(m.from);
    if (m.type === 'readIndex') {
      this.handleReadIndex(m.context, m.from);
      return;
    }
    if (pr === undefined) return;
    switch (m.type) {
      case 'appResp': {
        pr.recentActive = true;
        if (m.reject) {
          let probe = m.rejectHint;
          if (m.rejectHintTerm > 0) probe = this.log.findConflictByTerm(m.rejectHint, m.rejectHintTerm);
          if (pr.maybeDecrTo(m.index, probe)) {
            if (pr.state === 'replicate') pr.becomeProbe();
            this.sendAppend(m.from, true);
          }
          return;
        }
        const wasPaused = pr.isPaused();
        if (!pr.maybeUpdate(m.index)) {
          if (wasPaused && !pr.isPaused()) this.sendAppend(m.from, false);
          return;
        }
        if (pr.state === 'probe') pr.becomeReplicate();
        else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
          pr.becomeProbe();
          pr.becomeReplicate();
        } else if (pr.state === 'replicate') pr.freeInflightsTo(m.index);
        if (this.maybeCommit()) this.broadcastAppend();
        else if (wasPaused) this.sendAppend(m.from, false);
        // Pipelining: keep sending while the window has room.
        while (this.sendAppend(m.from, false)) { /* more */ }
        if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.send({ type: 'timeoutNow', to: m.from, term: this.currentTerm });
        return;
      }
      case 'heartbeatResp': {
        pr.recentActive = true;
        pr.probeSent = false;
        if (pr.state === 'replicate' && pr.inflightsFull()) pr.freeFirstInflight();
        if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);
        if (m.context !== '') this.ackRead(m.context, m.from);
        return;
      }
      default:
        return;
    }
  }

  // ---------------------------------------------------------------- replication

  /** Send `to` what it is missing; false if nothing was sent. */
  private sendAppend(to: string, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || to === this.id || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const entries = this.log.slice(pr.next, this.log.lastIndex() + 1, this.maxBytes);
    if (prevTerm === undefined || entries === null) return this.sendSnapshot(to, pr);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({ type: 'app', to, term: this.currentTerm, index: prevIndex, logTerm: prevTerm, entries, commit: this.log.committed });
    const last = entries.at(-1);
    pr.sentEntries(last?.index ?? prevIndex, entries.length);
    return true;
  }

  private sendSnapshot(to: string, pr: Progress): boolean {
    const snap = this.log.snapshot;
    if (!pr.recentActive || snap === null) return false;
    pr.becomeSnapshot(snap.meta.index);
    this.send({ type: 'snap', to, term: this.currentTerm, snapshot: snap });
    return true;
  }

  private broadcastAppend(): void {
    for (const id of this.progress.keys()) this.sendAppend(id, true);
  }

  private broadcastHeartbeat(context: string): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      this.send({ type: 'heartbeat', to: id, term: this.currentTerm, commit: Math.min(pr.match, this.log.committed), context });
    }
  }

  private appendEntries(entries: readonly { type: Entry['type']; data: Uint8Array }[]): { index: number; term: number } {
    let index = this.log.lastIndex();
    const stamped = entries.map((e) => ({ term: this.currentTerm, index: ++index, type: e.type, data: e.data }));
    this.log.append(stamped);
    this.progress.get(this.id)?.maybeUpdate(index);
    if (stamped.some((e) => e.type === EntryType.ConfChange)) this.syncConf(stamped);
    this.maybeCommit();
    return { index, term: this.currentTerm };
  }

  /** Advance commit to what a quorum of voters has, if that entry is of our term (Raft §5.4.2). */
  private maybeCommit(): boolean {
    const matches = [...this.voters].map((id) => this.progress.get(id)?.match ?? 0);
    const index = majorityIndex(matches);
    if (index <= this.log.committed || this.log.term(index) !== this.currentTerm) return false;
    this.log.commitTo(index);
    this.releaseReadsBeforeCommit();
    return true;
  }

  // ---------------------------------------------------------------- proposals

  propose(data: Uint8Array): { index: number; term: number } | null {
    if (this.currentRole !== 'leader' || this.leadTransferee !== null || !this.progress.has(this.id)) return null;
    const at = this.appendEntries([{ type: EntryType.Normal, data }]);
    // Batching: proposals made between two Readys go out as one append per follower.
    this.appendPending = true;
    return at;
  }

  proposeConfChange(cc: ConfChange): { index: number; term: number } | null {
    if (this.currentRole !== 'leader' || this.leadTransferee !== null) return null;
    if (this.pendingConfIndex > this.log.applied) return null;
    const at = this.appendEntries([{ type: EntryType.ConfChange, data: encodeConfChange(cc) }]);
    this.pendingConfIndex = at.index;
    this.broadcastAppend();
    return at;
  }

  /**
   * The driver applied a committed ConfChange. Membership already changed
   * when the entry reached the log; what waits for the commit is a removed
   * leader stepping down (it led the cluster until its removal was safe).
   */
  applyConfChange(_cc: ConfChange): ConfState {
    if (this.currentRole === 'leader' && !this.voters.has(this.id)) this.becomeFollower(this.currentTerm, null);
    return this.conf();
  }

  /**
   * `appended` (contiguous) is now in the log: bring membership up to date.
   * Only entries after the one our membership came from can change it, unless
   * that entry itself was replaced.
   */
  private syncConf(appended: readonly Entry[]): void {
    const first = appended[0];
    if (first === undefined) return;
    if (this.confIndex >= first.index && !(this.confIndex > this.log.snapshotIndex && this.log.term(this.confIndex) === this.confTerm)) {
      this.rebuildConf(); // the entry our membership came from was replaced
      return;
    }
    this.foldConf(appended);
  }

  /** Membership from the snapshot's plus every ConfChange in the log. */
  private rebuildConf(): void {
    this.confIndex = this.log.snapshotIndex;
    this.confTerm = 0;
    this.setConf(this.baseConf);
    this.foldConf(this.log.slice(this.log.snapshotIndex + 1, this.log.lastIndex() + 1) ?? []);
  }

  /** Apply the ConfChanges among `entries` (in log order) that come after the current membership's. */
  private foldConf(entries: readonly Entry[]): void {
    let conf: ConfState | null = null;
    for (const e of entries) {
      if (e.type !== EntryType.ConfChange || e.index <= this.confIndex) continue;
      conf = changedConf(conf ?? this.conf(), decodeConfChange(e.data));
      this.confIndex = e.index;
      this.confTerm = e.term;
    }
    if (conf === null) return;
    this.setConf(conf);
    if (this.currentRole !== 'leader') return;
    if (this.leadTransferee !== null && !this.voters.has(this.leadTransferee)) this.leadTransferee = null;
    // A smaller quorum may already have what a larger one lacked.
    if (this.maybeCommit()) this.broadcastAppend();
    else for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id, false);
  }

  /** Membership as of `index` (for a snapshot taken there). */
  private confAt(index: number): ConfState {
    let conf = this.baseConf;
    const entries = index > this.log.snapshotIndex ? this.log.slice(this.log.snapshotIndex + 1, index + 1) ?? [] : [];
    for (const e of entries) if (e.type === EntryType.ConfChange) conf = changedConf(conf, decodeConfChange(e.data));
    return conf;
  }

  private setConf(conf: ConfState): void {
    this.voters = new Set(conf.voters);
    this.learners = new Set(conf.learners.filter((l) => !this.voters.has(l)));
    const next = new Map<string, Progress>();
    const last = this.log.lastIndex();
    for (const id of [...this.voters, ...this.learners]) {
      const learner = this.learners.has(id);
      const pr = this.progress.get(id) ?? Object.assign(new Progress(last + 1, this.maxInflight, learner), { recentActive: true, match: id === this.id ? last : 0 });
      pr.isLearner = learner;
      next.set(id, pr);
    }
    this.progress = next;
  }

  transferLeadership(to: string): boolean {
    if (this.currentRole !== 'leader' || to === this.id || !this.voters.has(to)) return false;
    const pr = this.progress.get(to);
    if (pr === undefined) return false;
    if (this.leadTransferee === to) return true;
    this.leadTransferee = to;
    this.electionElapsed = 0;
    if (pr.match === this.log.lastIndex()) this.send({ type: 'timeoutNow', to, term: this.currentTerm });
    else this.sendAppend(to, true);
    return true;
  }

  // ---------------------------------------------------------------- reads

  readIndex(requestId: string): boolean {
    if (this.currentRole === 'leader') {
      this.handleReadIndex(requestId, this.id);
      return true;
    }
    if (this.leaderId === null) return false;
    this.send({ type: 'readIndex', to: this.leaderId, term: this.currentTerm, context: requestId });
    return true;
  }

  private handleReadIndex(requestId: string, from: string): void {
    if (this.log.term(this.log.committed) !== this.currentTerm) {
      // Our commit index may be behind the cluster's until we commit in our term.
      this.readsBeforeCommit.push({ requestId, from });
      return;
    }
    const index = this.log.committed;
    if (this.voters.size === 1 && this.voters.has(this.id)) {
      this.answerRead(requestId, from, index);
      return;
    }
    this.pendingReads.push({ requestId, from, index, acks: new Set([this.id]) });
    this.broadcastHeartbeat(requestId);
  }

  private releaseReadsBeforeCommit(): void {
    if (this.readsBeforeCommit.length === 0) return;
    const waiting = this.readsBeforeCommit.splice(0);
    for (const r of waiting) this.handleReadIndex(r.requestId, r.from);
  }

  /** A heartbeat ack confirms leadership for this read and every earlier one. */
  private ackRead(requestId: string, from: string): void {
    const at = this.pendingReads.findIndex((r) => r.requestId === requestId);
    const read = this.pendingReads[at];
    if (read === undefined) return;
    read.acks.add(from);
    const acks = new Map([...read.acks].map((id) => [id, true]));
    if (voteResult(this.voters, acks) !== 'won') return;
    for (const r of this.pendingReads.splice(0, at + 1)) this.answerRead(r.requestId, r.from, r.index);
  }

  private answerRead(requestId: string, from: string, index: number): void {
    if (from === this.id) this.readStates.push({ requestId, index });
    else this.send({ type: 'readIndexResp', to: from, term: this.currentTerm, index, context: requestId });
  }

  // ---------------------------------------------------------------- snapshots and transport feedback

  /** Returns the snapshot for the driver to persist; null if `index` is already compacted. */
  compact(index: number, data: Uint8Array): Snapshot | null {
    if (index <= this.log.snapshotIndex) return null;
    const term = this.log.term(index);
    if (term === undefined) throw new RaftInvariantError(`cannot compact to ${index}: no such entry`);
    const snapshot: Snapshot = { meta: { index, term, conf: this.confAt(index) }, data };
    this.log.compact(snapshot);
    this.baseConf = snapshot.meta.conf;
    return snapshot;
  }

  /**
   * The transport lost its connection to `to`. A leader probes that follower
   * again. A follower that lost its leader (a killed process resets the
   * connection at once) stops honouring the leader's lease and campaigns in
   * 1-3 ticks instead of a whole election timeout; pre-vote keeps this from
   * disturbing a leader the others still hear, since they keep its lease.
   */
  reportUnreachable(to: string): void {
    if (this.currentRole === 'leader') {
      const pr = this.progress.get(to);
      if (pr?.state === 'replicate') pr.becomeProbe();
      return;
    }
    if (to !== this.leaderId || !this.promotable()) return;
    this.electionElapsed = Math.max(this.electionElapsed, this.electionTicks);
    this.randomizedElectionTimeout = Math.min(this.randomizedElectionTimeout, this.electionElapsed + 1 + Math.floor(this.config.random() * 3));
  }

  reportSnapshot(to: string, ok: boolean): void {
    const pr = this.progress.get(to);
    if (this.currentRole !== 'leader' || pr?.state !== 'snapshot') return;
    if (!ok) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for the follower's answer (or a heartbeat ack) before probing again.
    pr.probeSent = true;
  }

  // ---------------------------------------------------------------- output

  private send(m: Partial<Message> & Pick<Message, 'type' | 'to' | 'term'>): void {
    this.msgs.push({
      from: this.id, logTerm: 0, index: 0, entries: noEntries, commit: 0, reject: false, rejectHint: 0, rejectHintTerm: 0,
      snapshot: null, context: '', ...m,
    });
  }

  private flushAppends(): void {
    if (!this.appendPending) return;
    this.appendPending = false;
    if (this.currentRole === 'leader') this.broadcastAppend();
  }

  private hardState(): HardState {
    return { term: this.currentTerm, vote: this.vote, commit: this.log.committed };
  }

  /** Is there anything to persist, send or apply? Call ready() only after the previous Ready's advance(). */
  hasReady(): boolean {
    this.flushAppends();
    const hs = this.hardState();
    const p = this.prevHardState;
    return this.msgs.length > 0
      || this.readStates.length > 0
      || hs.term !== p.term || hs.vote !== p.vote || hs.commit !== p.commit
      || this.leaderId !== this.prevSoftState.leader || this.currentRole !== this.prevSoftState.role
      || this.log.pendingSnapshot !== null
      || this.log.unstableEntries().length > 0
      || (this.log.pendingSnapshot === null && this.log.committed > this.log.applying);
  }

  ready(): Ready {
    this.flushAppends();
    const hs = this.hardState();
    const p = this.prevHardState;
    const soft: SoftState = { leader: this.leaderId, role: this.currentRole };
    const committed = this.log.nextCommitted(this.maxBytes * 4);
    const last = committed.at(-1);
    if (last !== undefined) this.log.applying = last.index;
    const rd: Ready = {
      softState: soft.leader !== this.prevSoftState.leader || soft.role !== this.prevSoftState.role ? soft : null,
      hardState: hs.term !== p.term || hs.vote !== p.vote || hs.commit !== p.commit ? hs : null,
      entries: this.log.unstableEntries(),
      snapshot: this.log.pendingSnapshot,
      messages: this.msgs,
      committed,
      readStates: this.readStates,
    };
    this.msgs = [];
    this.readStates = [];
    if (rd.softState !== null) this.prevSoftState = rd.softState;
    if (rd.hardState !== null) this.prevHardState = rd.hardState;
    return rd;
  }

  advance(rd: Ready): void {
    const lastEntry = rd.entries.at(-1);
    if (lastEntry !== undefined) this.log.stableTo(lastEntry.index, lastEntry.term);
    if (rd.snapshot !== null) this.log.snapshotApplied(rd.snapshot);
    const lastApplied = rd.committed.at(-1);
    if (lastApplied !== undefined) this.log.appliedTo(lastApplied.index);
  }
}

function changedConf(conf: ConfState, cc: ConfChange): ConfState {
  const voters = new Set(conf.voters);
  const learners = new Set(conf.learners);
  switch (cc.type) {
    case 'addVoter': learners.delete(cc.node); voters.add(cc.node); break;
    case 'addLearner': if (!voters.has(cc.node)) learners.add(cc.node); break;
    case 'remove': voters.delete(cc.node); learners.delete(cc.node); break;
  }
  return { voters: [...voters].sort(), learners: [...learners].sort() };
}
