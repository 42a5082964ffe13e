// Raft's safety properties, checked as the simulation runs. Each check is
// fed by the server drivers at the moment the fact becomes true (an entry
// made durable, an entry applied, a leader elected), across every server and
// every moment of the run, so a violation is caught at the step it happens.

import type { Entry } from '../../server/raft/types.js';
import { stillPlanned, type RecordFires } from '../../server/state/commands.js';
import type { Job } from '../../server/state/job.js';
import { firstAfter, parseSchedule } from '../../server/scheduler/index.js';

export class SafetyViolation extends Error {
  override readonly name = 'SafetyViolation';
}

/** A server's durable log, as the checks need to see it. */
export interface LogView {
  readonly snapshotIndex: number;
  readonly snapshotTerm: number;
  readonly lastIndex: number;
  /** Term of the entry at `index` (0 before the log), or undefined if compacted or absent. */
  termAt(index: number): number | undefined;
}

export class SafetyChecks {
  private readonly leaderOfTerm = new Map<number, string>();
  /** (index, term) -> digest of the entry's data and the term of the entry before it (log matching). */
  private readonly entryDigest = new Map<string, { data: string; prevTerm: number | undefined }>();
  /** index -> digest of the entry applied there (state machine safety). */
  private readonly appliedDigest = new Map<number, string>();
  /** index -> term of every entry known committed (applied by someone). */
  private readonly committedTerm = new Map<number, number>();
  /** "job@scheduledAt" -> the log indexes of the fires that ran it. */
  private readonly fireIndex = new Map<string, Set<number>>();
  /** job -> the log indexes that deleted it (a job created again is another job). */
  private readonly deletedAt = new Map<string, Set<number>>();
  /** "run/job" -> the execution that ran the task's first attempt. */
  private readonly taskRuns = new Map<string, string>();
  checks = 0;

  /**
   * No task twice per run: one task of one run has one first attempt. A
   * server that replays its log after a crash re-creates the same
   * execution (same id); another id is a second run of the task.
   */
  get tasksStarted(): number {
    return this.taskRuns.size;
  }

  taskStarted(id: string, index: number, runId: string, jobName: string, executionId: string): void {
    this.checks++;
    const key = `${runId}/${jobName}`;
    const seen = this.taskRuns.get(key);
    if (seen === undefined) this.taskRuns.set(key, executionId);
    else if (seen !== executionId) throw new SafetyViolation(`task twice per run: ${key} ran as execution ${seen} and again as ${executionId} (entry ${index}, seen on ${id})`);
  }

  /** Election safety: at most one leader per term. */
  leader(id: string, term: number, log: LogView): void {
    this.checks++;
    const other = this.leaderOfTerm.get(term);
    if (other !== undefined && other !== id) throw new SafetyViolation(`two leaders in term ${term}: ${other} and ${id}`);
    if (other === undefined) {
      this.leaderOfTerm.set(term, id);
      this.leaderComplete(id, term, log);
    }
  }

  /** Leader completeness: a new leader of term T holds every entry committed in a term before T. */
  private leaderComplete(id: string, term: number, log: LogView): void {
    for (const [index, t] of this.committedTerm) {
      if (t >= term || index <= log.snapshotIndex) continue;
      const have = log.termAt(index);
      if (have !== t) {
        throw new SafetyViolation(`leader ${id} of term ${term} lacks committed entry ${index} (term ${t}); it has ${have === undefined ? 'nothing' : `term ${have}`} there`);
      }
    }
  }

  /** Log matching: entries with the same index and term carry the same data and follow the same term. */
  persisted(id: string, entries: readonly Entry[], log: LogView): void {
    for (const e of entries) {
      this.checks++;
      const prevTerm = e.index - 1 === log.snapshotIndex ? log.snapshotTerm : log.termAt(e.index - 1);
      const data = digestOf(e.data);
      const key = `${e.index}:${e.term}`;
      const seen = this.entryDigest.get(key);
      if (seen === undefined) {
        this.entryDigest.set(key, { data, prevTerm });
        continue;
      }
      if (seen.data !== data) throw new SafetyViolation(`log matching: ${id} holds different data at index ${e.index} term ${e.term}`);
      if (seen.prevTerm === undefined) seen.prevTerm = prevTerm;
      else if (prevTerm !== undefined && prevTerm !== seen.prevTerm) {
        throw new SafetyViolation(`log matching: ${id} has term ${prevTerm} before entry ${e.index}/${e.term}, another server has term ${seen.prevTerm}`);
      }
    }
  }

  /** State machine safety: no two servers apply different entries at one index. */
  applied(id: string, e: Entry): void {
    this.checks++;
    const digest = `${e.term}:${digestOf(e.data)}`;
    const seen = this.appliedDigest.get(e.index);
    if (seen === undefined) {
      this.appliedDigest.set(e.index, digest);
      this.committedTerm.set(e.index, e.term);
    } else if (seen !== digest) {
      throw new SafetyViolation(`state machine safety: ${id} applied ${digest} at index ${e.index}, another server applied ${seen}`);
    }
  }

  /** Exactly-once firing: one scheduled time of a job runs from one log entry only. */
  fired(id: string, index: number, jobName: string, scheduledAtMs: number): void {
    this.checks++;
    const key = `${jobName}@${scheduledAtMs}`;
    let seen = this.fireIndex.get(key);
    if (seen === undefined) this.fireIndex.set(key, (seen = new Set()));
    for (const other of seen) {
      if (other === index) continue;
      const [lo, hi] = other < index ? [other, index] : [index, other];
      const recreated = [...(this.deletedAt.get(jobName) ?? [])].some((d) => lo < d && d < hi);
      if (!recreated) throw new SafetyViolation(`fire doubled: ${key} ran from entry ${other} and again from entry ${index} (seen on ${id})`);
    }
    seen.add(index);
  }

  /** A job deleted at `index`: a job of that name created later is another one. */
  jobDeleted(jobName: string, index: number): void {
    let at = this.deletedAt.get(jobName);
    if (at === undefined) this.deletedAt.set(jobName, (at = new Set()));
    at.add(index);
  }

  /**
   * Every scheduled second ran or is recorded skipped: a fire command that
   * moves a job's bookmark from b0 to b1 must account for each scheduled
   * time in (b0, b1], with a fire or inside a skipped range. `jobOf` sees the
   * state before the command applies.
   */
  settles(id: string, index: number, command: RecordFires, jobOf: (name: string) => Job | undefined): void {
    for (const { jobName, atMs: b1, planned } of command.lastScheduled) {
      this.checks++;
      const job = jobOf(jobName);
      if (!job || job.schedule === '' || b1 <= job.lastScheduledMs) continue;
      // A plan for a schedule the job no longer has does not apply (see ScheduledUpTo).
      if (!stillPlanned(planned, job)) continue;
      const input = {
        schedule: parseSchedule(job.schedule, job.name), timeZone: job.timezone, anchorMs: job.anchorMs, lastScheduledMs: job.lastScheduledMs,
        startsAtMs: job.startsAtMs, expiresAtMs: job.expiresAtMs, catchUp: job.catchUp,
      };
      const fired = new Set(command.fires.filter((f) => f.jobName === jobName).map((f) => f.scheduledAtMs));
      const skipped = command.skips.filter((k) => k.jobName === jobName);
      let t = firstAfter(input, job.lastScheduledMs);
      for (let n = 0; t !== null && t <= b1 && n < 100_000; n++) {
        const at = t;
        if (!fired.has(at) && !skipped.some((k) => k.firstMs <= at && at <= k.lastMs)) {
          throw new SafetyViolation(`second lost: entry ${index} moves ${jobName}'s bookmark from ${job.lastScheduledMs} to ${b1} but ${at} neither ran nor was recorded skipped (seen on ${id})`);
        }
        t = firstAfter(input, at);
      }
    }
  }

  get fires(): number {
    return this.fireIndex.size;
  }

  get maxTerm(): number {
    return Math.max(0, ...this.leaderOfTerm.keys());
  }

  get elections(): number {
    return this.leaderOfTerm.size;
  }
}

/** FNV-1a over the bytes: enough to tell entries apart in a run. */
export function digestOf(data: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const b of data) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return `${data.length}.${h.toString(16)}`;
}
