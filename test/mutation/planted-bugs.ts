// Bugs planted in the compiled code, one at a time, that the tests must
// catch: each is a rule of Raft, of the node driver, of the disk log or of the
// state machine that a passing test suite could otherwise break unnoticed.
// `from` must occur exactly once in the compiled file (dist/<file>), so a
// refactoring that moves the code makes the check fail loudly instead of
// silently testing nothing.

export interface PlantedBug {
  readonly name: string;
  /** The compiled module, relative to dist/. */
  readonly file: string;
  readonly from: string;
  readonly to: string;
  /** Programs (relative to dist/, with arguments) of which at least one must fail. */
  readonly caughtBy: readonly (readonly string[])[];
}

const scenarios = ['test/server/raft/raft-scenarios.test.js'];
const core = ['test/server/raft/raft-core.test.js'];
const nodeSim = ['test/sim/run-node.js', '--stop', '--seeds', '100'];
const sim = (servers: 3 | 5, seeds = 300) => ['test/sim/run.js', '--stop', '--servers', String(servers), '--seeds', String(seeds)];

export const plantedBugs: readonly PlantedBug[] = [
  {
    name: 'no current-term commit rule (Raft figure 8)',
    file: 'server/raft/raft-core.js',
    from: 'if (index <= this.log.committed || this.log.term(index) !== this.currentTerm)',
    to: 'if (index <= this.log.committed)',
    caughtBy: [scenarios, core],
  },
  {
    name: 'no membership fallback when an uncommitted ConfChange is truncated',
    file: 'server/raft/raft-core.js',
    from: 'if (this.confIndex >= first.index && !(this.confIndex > this.log.snapshotIndex && this.log.term(this.confIndex) === this.confTerm)) {',
    to: 'if (false) {',
    caughtBy: [scenarios, core],
  },
  {
    name: 'ReadIndex answered without the heartbeat round',
    file: 'server/raft/raft-core.js',
    from: 'if (this.voters.size === 1 && this.voters.has(this.id)) {\n            this.answerRead(requestId, from, index);',
    to: 'if (true) {\n            this.answerRead(requestId, from, index);',
    caughtBy: [core, scenarios, sim(3), sim(5)],
  },
  {
    name: 'votes granted without the up-to-date check',
    file: 'server/raft/raft-core.js',
    from: 'if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {',
    to: 'if (canVote) {',
    caughtBy: [core, scenarios, sim(3), sim(5)],
  },
  {
    name: 'the vote is not persisted',
    file: 'server/raft/raft-core.js',
    from: 'return { term: this.currentTerm, vote: this.vote, commit: this.log.committed };',
    to: "return { term: this.currentTerm, vote: '', commit: this.log.committed };",
    caughtBy: [core, scenarios, sim(3), sim(5)],
  },
  {
    name: 'the driver sends before it persists',
    file: 'server/cluster/raft-node.js',
    from: 'if (rd.snapshot)\n                    await this.log.saveSnapshot(rd.snapshot);',
    to: 'this.options.transport.send(rd.messages);\n                if (rd.snapshot)\n                    await this.log.saveSnapshot(rd.snapshot);',
    caughtBy: [['test/server/cluster/raft-node.test.js']],
  },
  {
    // The same bug, seen by the production driver under the simulation (crashes in the middle of a Ready).
    name: 'the driver sends before it persists, seen by the node simulation',
    file: 'server/cluster/raft-node.js',
    from: 'if (rd.snapshot)\n                    await this.log.saveSnapshot(rd.snapshot);',
    to: 'this.options.transport.send(rd.messages);\n                if (rd.snapshot)\n                    await this.log.saveSnapshot(rd.snapshot);',
    caughtBy: [nodeSim],
  },
  {
    name: 'two membership changes at once',
    file: 'server/raft/raft-core.js',
    from: 'if (this.pendingConfIndex > this.log.applied)\n            return null;',
    to: '',
    caughtBy: [core, scenarios],
  },
  {
    name: 'an old snapshot accepted',
    file: 'server/raft/raft-core.js',
    from: 'if (index <= this.log.committed) {\n            this.send({ type: \'appResp\'',
    to: 'if (false) {\n            this.send({ type: \'appResp\'',
    caughtBy: [core],
  },
  {
    name: 'the schedule bookmark moves backwards',
    file: 'server/state/state-machine.js',
    from: '? Math.max(atMs, prev?.lastScheduledMs ?? atMs)',
    to: '? atMs',
    caughtBy: [['test/server/state/state-machine.test.js']],
  },
  {
    // Finding 1 of the review, on production code: the real dispatcher on skewed clocks re-fires a second.
    name: 'the schedule bookmark moves backwards, seen by the simulation',
    file: 'server/state/state-machine.js',
    from: '? Math.max(atMs, prev?.lastScheduledMs ?? atMs)',
    to: '? atMs',
    caughtBy: [sim(3), sim(5)],
  },
  {
    name: 'a short write is ignored',
    file: 'server/storage/disk-log.js',
    from: 'written += bytesWritten;',
    to: 'written = data.length;',
    caughtBy: [['test/server/storage/disk-log.test.js']],
  },
  {
    name: 'a short write is ignored, seen by the node simulation',
    file: 'server/storage/disk-log.js',
    from: 'written += bytesWritten;',
    to: 'written = data.length;',
    caughtBy: [nodeSim],
  },
];
