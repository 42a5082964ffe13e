// Parsed schedules per job, cached by (schedule, zone), and the questions
// the dispatcher asks of the pure planner: what is due now, and when next.

import { describeSchedule, dueFires, firstAfter, nextFire, parseGoDurationMs, parseSchedule, validateTimeZone, type DueInput, type DuePlan, type Schedule } from '../scheduler/index.js';
import { edgesOf, type Job, type JobSpec } from '../state/job.js';

interface Cached {
  readonly spec: string;
  readonly schedule: Schedule;
}

export class JobSchedules {
  private readonly cache = new Map<string, Cached>();

  /** Throws the scheduler's typed error (with `field`) for a bad schedule or zone. */
  check(spec: Pick<JobSpec, 'name' | 'schedule' | 'timezone'>): void {
    validateTimeZone(spec.timezone);
    if (spec.schedule !== '') parseSchedule(spec.schedule, spec.name);
  }

  parseDurationMs(text: string): number {
    return parseGoDurationMs(text);
  }

  /**
   * The first `count` fire times strictly after `afterMs` of a schedule in a
   * zone, by the scheduler's own parser and nextFire (`@every` anchored at
   * `anchorMs`: a saved job's own anchor, else `afterMs`, as a job saved then
   * would be). Throws the scheduler's typed error for a bad schedule or zone.
   */
  preview(schedule: string, timeZone: string, afterMs: number, count: number, jobName = '', anchorMs = afterMs): number[] {
    validateTimeZone(timeZone);
    const parsed = parseSchedule(schedule, jobName);
    const out: number[] = [];
    let t = afterMs;
    while (out.length < count) {
      const next = nextFire(parsed, t, timeZone, anchorMs);
      if (next === null) break;
      out.push(next);
      t = next;
    }
    return out;
  }

  /** The schedule in words, with its zone (throws the scheduler's typed error, as preview does). */
  describe(schedule: string, timeZone: string, jobName = ''): string {
    validateTimeZone(timeZone);
    return describeSchedule(parseSchedule(schedule, jobName), timeZone);
  }

  forget(name: string): void {
    this.cache.delete(name);
  }

  private input(job: Job): DueInput | null {
    // Child jobs run after their parent, never on a schedule of their own (as Dkron).
    if (job.disabled || edgesOf(job).length > 0 || job.schedule === '') return null;
    let hit = this.cache.get(job.name);
    if (!hit || hit.spec !== job.schedule) {
      hit = { spec: job.schedule, schedule: parseSchedule(job.schedule, job.name) };
      this.cache.set(job.name, hit);
    }
    return {
      schedule: hit.schedule,
      timeZone: job.timezone,
      anchorMs: job.anchorMs,
      lastScheduledMs: job.lastScheduledMs,
      startsAtMs: job.startsAtMs,
      expiresAtMs: job.expiresAtMs,
      catchUp: job.catchUp,
    };
  }

  /** The first scheduled time not yet settled: when the dispatcher must wake for this job. */
  firstUnsettled(job: Job): number | null {
    const input = this.input(job);
    return input ? firstAfter(input, job.lastScheduledMs) : null;
  }

  /** The next time the job will run, as shown to users. */
  next(job: Job, nowMs: number): number | null {
    const input = this.input(job);
    if (!input) return null;
    const first = firstAfter(input, job.lastScheduledMs);
    if (first === null || first > nowMs) return first;
    // Due but not yet settled: it runs now (or per its catch-up policy).
    return dueFires(input, nowMs).run[0] ?? firstAfter(input, nowMs);
  }

  due(job: Job, nowMs: number): DuePlan | null {
    const input = this.input(job);
    return input ? dueFires(input, nowMs) : null;
  }
}

/**
 * Whether a fire planned for `planned` still holds for `current` (the same
 * job later): everything the plan was made from is the same, so committing
 * it is what planning again would commit. (Counters and results may differ.)
 */
export function samePlanInputs(planned: Job, current: Job): boolean {
  return planned === current || (
    planned.schedule === current.schedule && planned.timezone === current.timezone && planned.disabled === current.disabled &&
    planned.lastScheduledMs === current.lastScheduledMs && planned.anchorMs === current.anchorMs &&
    planned.startsAtMs === current.startsAtMs && planned.expiresAtMs === current.expiresAtMs && planned.catchUp === current.catchUp &&
    planned.tags === current.tags && planned.dependsOn === current.dependsOn && planned.dependentJobs === current.dependentJobs &&
    planned.executor === current.executor && planned.concurrency === current.concurrency
  );
}
