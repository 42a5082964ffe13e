// The leader's imperative side: it owns the clock and the timers, asks the
// pure planner what is due, commits fires before running them, and starts
// pending executions (retries, child jobs) when their time comes.
//
// One timer serves every job: a min-heap of next fire times (TimerHeap +
// DueTimer). Everything that falls due at one wake-up is committed in
// RecordFires commands of at most `maxCommandBytes` each (all of one job's
// fires in the same one), so a second with 10,000 due jobs is about ten log
// entries, not 10,000, and none is larger than a log takes (the built-in
// Raft's entry limit, etcd's request limit); the first ones run while the
// rest commit. A command the log still refuses as too large is split in two
// and committed again, down to one job's. A new leader (or a restarted light
// node) resumes from the replicated bookkeeping: each job's lastScheduledMs
// says which scheduled times are already settled, and the planner applies
// the job's catch-up policy to the ones after it.

import { CommandType, plannedFor, utf8Length, type Fire, type ScheduledUpTo, type Skip } from '../state/commands.js';
import type { CommandLog } from '../state/command-log.js';
import type { Execution } from '../state/execution.js';
import { edgesOf, type Job, type JobSpec } from '../state/job.js';
import type { StateMachine } from '../state/state-machine.js';
import type { ApplyResult } from '../state/state-machine.js';
import type { NodeChooser } from './agent-executor-host.js';
import type { ExecutorHost } from './executor-host.js';
import { ExecutionRunner, type RunningExecution } from './execution-runner.js';
import { JobSchedules, samePlanInputs } from './job-schedules.js';
import { parseTags } from './target-selection.js';
import type { ProcessorHost } from './processor-host.js';
import type { Notifier } from './notify/notifier.js';
import { notifyRulesProblem } from './notify/rules.js';
import { DueTimer, TimerHeap, nodeTimers, type Timers } from './timer-heap.js';
import { submitSplitting } from './too-large.js';
import { chunksOf } from '../../common/chunks.js';
import { isEmptyPlan, planRun, taskParameters } from '../scheduler/workflow-unlocks.js';
import { renderConfig, renderTemplate } from '../scheduler/workflow-template.js';
import type { Run } from '../state/run.js';
import { rfc3339 } from '../state/validate-job.js';
import { randomUUID } from 'node:crypto';
import { ExecErrorCode } from '../../common/error-codes.js';

export interface DispatcherOptions {
  readonly nodeName: string;
  readonly state: StateMachine;
  readonly log: CommandLog;
  readonly host: ExecutorHost;
  readonly now: () => number;
  readonly outputLimit: number;
  readonly onError?: (err: unknown) => void;
  /** Runs jobs' processors on finished executions (none: jobs with processors are refused). */
  readonly processors?: ProcessorHost | undefined;
  readonly processorTimeoutMs?: number | undefined;
  /** Picks the agents that run each fire (a cluster with agents); without it everything runs on this node. */
  readonly chooser?: NodeChooser;
  /** The timers it waits on (default Node's; the simulation passes its clock's). */
  readonly timers?: Timers;
  /** Notifications: planned with results and starts, delivered while leading (none: no notifications). */
  readonly notifier?: Notifier | undefined;
  /** Problems with a job's `notify` rules that this server's settings see (e.g. mail without --mail-host). */
  readonly notifyProblem?: ((spec: JobSpec) => { field: string; message: string } | null) | undefined;
  /** Encoded bytes of fires (or starts) per command (default defaultMaxCommandBytes). */
  readonly maxCommandBytes?: number | undefined;
  /** How long before a fire is due its plan is made (default defaultPlanAheadMs; 0: when it is due). */
  readonly planAheadMs?: number | undefined;
}

/** How long to wait before planning a job again after its fires failed to commit. */
const retryPlanMs = 1000;
/** Encoded bytes of fires (or starts) per RecordFires (StartExecutions) command, unless the options say otherwise. */
export const defaultMaxCommandBytes = 256 * 1024;
/**
 * Fires are planned this long before they are due and committed when they
 * are due, so a burst's planning (about 15 ms per 1,000 jobs) is done by then.
 */
export const defaultPlanAheadMs = 500;
/** Jobs planned in one event-loop turn; a burst's others in the next turns. */
const jobsPerPlanTurn = 1000;

/** The executions one command started, handed to the runner from `next` on. */
interface StartQueue {
  readonly executions: readonly Execution[];
  next: number;
  readonly leadership: number;
}

/** What one due job adds to a RecordFires command. */
interface DueJob {
  readonly name: string;
  readonly fires: Fire[];
  readonly skips: Skip[];
  readonly lastScheduled: ScheduledUpTo[];
  readonly next: number | null;
  readonly bytes: number;
}

/** Fires planned ahead, committed at `at` unless their job changed meanwhile. */
interface HeldFires {
  readonly at: number;
  readonly jobs: { readonly job: Job; readonly due: DueJob }[];
  timer: unknown;
}
/**
 * Executions a command started that are handed to the runner in one
 * event-loop turn; a burst's others follow in the next turns, so API
 * requests, agents' heartbeats and the first assignments go out meanwhile
 * (handing over 10,000 at once holds the event loop for a quarter second).
 */
const startsPerTurn = 500;

export class Dispatcher {
  readonly schedules = new JobSchedules();
  /** Jobs by when to plan their next fire (planAheadMs before it is due); fireAt says when it is due. */
  private readonly fireHeap = new TimerHeap();
  private readonly fireAt = new Map<string, number>();
  private readonly planAheadMs: number;
  /** Fires planned ahead, by the time they are due. Their jobs count as committing. */
  private readonly held = new Map<number, HeldFires>();
  private readonly pendingHeap = new TimerHeap();
  private readonly fireTimer: DueTimer;
  private readonly pendingTimer: DueTimer;
  private readonly runner: ExecutionRunner;
  private unsubscribe: (() => void) | null = null;
  private leading = false;
  /** Counts startLeading(): a burst handed over in slices stops at a step-down, even if this server leads again before the next slice. */
  private leaderships = 0;
  /** Committed executions not yet handed to the runner (see startSome). */
  private readonly toStart: StartQueue[] = [];
  private turnStarts = 0;
  private startTurnQueued = false;
  /**
   * Jobs whose fires are being committed. Until that command applies, the
   * job's bookkeeping still points before those fires, so planning it again
   * (a job event arrives meanwhile) would fire the same seconds twice; such
   * a job is planned again once its fires have applied.
   */
  private readonly committing = new Set<string>();
  private readonly replanAfterCommit = new Set<string>();
  /** Runs whose next step is being committed, and runs that changed meanwhile (planned again after). */
  private readonly advancing = new Set<string>();
  private readonly advanceAgain = new Set<string>();

  constructor(private readonly options: DispatcherOptions) {
    this.planAheadMs = options.planAheadMs ?? defaultPlanAheadMs;
    const onError = options.onError ?? (() => {});
    this.runner = new ExecutionRunner({
      log: options.log,
      host: options.host,
      now: options.now,
      job: (name) => options.state.job(name),
      outputLimit: options.outputLimit,
      onCreated: (created) => this.schedulePending(created),
      onError,
      processors: options.processors,
      execution: (id) => options.state.execution(id),
      nodeName: options.nodeName,
      processorTimeoutMs: options.processorTimeoutMs,
      notifications: options.notifier ? (r) => options.notifier?.forResult(r) ?? [] : undefined,
      prepare: (e, job) => this.prepare(e, job),
    });
    this.fireTimer = new DueTimer(this.fireHeap, options.now, (due) => void this.fire(due.map((d) => d.key)), options.timers);
    this.pendingTimer = new DueTimer(this.pendingHeap, options.now, (due) => void this.startPending(due.map((d) => d.key)), options.timers);
  }

  get isLeading(): boolean {
    return this.leading;
  }

  /** Become the one that fires: plan every job, settle what a previous leader left running. */
  startLeading(): void {
    if (this.leading) return;
    this.leading = true;
    this.leaderships++;
    const { state } = this.options;
    this.unsubscribe = state.subscribe((ev) => {
      if (ev.kind === 'job') this.planJob(ev.name, ev.job);
      else if (ev.kind === 'run' && ev.run.state === 'running') this.queueAdvance(ev.run.id);
    });
    for (const job of state.jobs()) this.planJob(job.name, job);
    // What a previous leader left undecided (a result committed, its unlocks not yet).
    for (const run of state.activeRuns()) this.queueAdvance(run.id);
    const orphans: Execution[] = [];
    for (const e of state.activeExecutions()) {
      if (e.state === 'pending') this.pendingHeap.set(e.id, e.notBeforeMs);
      else if (this.runner.isRunning(e.id)) continue;
      else if (this.options.chooser?.resume(e)) this.runner.run(e); // its agent may still run it: reattach
      else orphans.push(e);
    }
    // A run stopped by a leader that died before it stopped its running tasks: stop them now.
    for (const run of state.runs()) {
      if (run.state !== 'stopped') continue;
      for (const t of run.tasks) if (t.state === 'running' && t.executionId !== null) this.runner.stop(t.executionId);
    }
    for (const e of orphans) {
      this.runner.finish({
        id: e.id, finishedAtMs: this.options.now(), state: 'lost', output: e.output, outputTruncated: e.outputTruncated,
        exitCode: null, error: `lost: node ${e.nodeName} stopped or lost leadership while this execution ran; its outcome is unknown`,
        errorCode: ExecErrorCode.AgentLost,
      });
    }
    this.fireTimer.arm();
    this.pendingTimer.arm();
    this.options.notifier?.startLeading();
  }

  stopLeading(): void {
    this.options.notifier?.stopLeading();
    this.leading = false;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.fireTimer.stop();
    this.pendingTimer.stop();
    this.fireHeap.clear();
    this.fireAt.clear();
    this.pendingHeap.clear();
    // Planned, not committed: nothing of them happened; leading again plans them anew.
    for (const h of this.held.values()) {
      this.timers.clearTimeout(h.timer);
      for (const { due } of h.jobs) this.committing.delete(due.name);
    }
    this.held.clear();
    this.replanAfterCommit.clear();
    // An advance in flight settles by itself (refused, or committed: AdvanceRun is idempotent); leading again plans every run anew.
    this.advancing.clear();
    this.advanceAgain.clear();
  }

  /** Problems with a job that only the scheduler and the executors can see. */
  async validateJob(spec: JobSpec): Promise<{ code: string; field: string; message: string } | null> {
    try {
      this.schedules.check(spec);
    } catch (err) {
      const e = err as Error & { code?: string; field?: string };
      return { code: e.code ?? 'CT_SCHEDULE_INVALID', field: e.field === 'timezone' ? 'timezone' : 'schedule', message: e.message };
    }
    const tags = parseTags(spec.tags);
    if ('error' in tags) return { code: 'CT_API_INVALID_FIELD', field: 'tags', message: `${tags.error}; no agent could ever be chosen` };
    if (tags.count === 0) return { code: 'CT_API_INVALID_FIELD', field: 'tags', message: 'a tag count of 0 chooses no agent: use 1 or more, or leave out ":count" to run on every match' };
    const problem = (await this.options.host.validate?.(spec.executor, spec.executorConfig)) ?? null;
    // The executor's (a plugin's Validate, across a process) rejection keeps its own code; the API's table maps it.
    if (problem !== null) return { code: ExecErrorCode.ConfigInvalid, field: 'executor_config', message: problem };
    for (const [name, config] of Object.entries(spec.processors)) {
      const { processors } = this.options;
      const bad = processors ? processors.validate(name, config) : `unknown processor "${name}": this server runs no processors`;
      if (bad !== null) return { code: 'CT_API_INVALID_FIELD', field: 'processors', message: bad };
    }
    const notify = notifyRulesProblem(spec) ?? this.options.notifyProblem?.(spec) ?? null;
    if (notify !== null) return { code: 'CT_API_INVALID_FIELD', ...notify };
    return null;
  }

  executors(): string[] {
    return this.options.host.executors();
  }

  /** The next time a job will fire, for display (null: never / not scheduled). */
  nextRun(job: Job): number | null {
    return this.schedules.next(job, this.options.now());
  }

  /** Run a job now (API `POST /v1/jobs/{name}/run`). Resolves once the fire is committed. */
  async runNow(name: string, parameters?: Readonly<Record<string, string>>): Promise<ApplyResult> {
    const job = this.options.state.job(name);
    const fire: Fire = {
      jobName: name, scheduledAtMs: this.options.now(), trigger: 'manual', nodes: job ? this.nodesFor(job) : [this.options.nodeName],
      ...(job ? runIdFor(job) : {}),
      ...(parameters !== undefined && Object.keys(parameters).length > 0 ? { parameters } : {}),
    };
    const res = await this.options.log.submit({ type: CommandType.RecordFires, atMs: this.options.now(), fires: [fire], skips: [], lastScheduled: [] });
    if (res.ok) this.run(res.executions);
    return res;
  }

  /**
   * An ODM platform handed us a task (POST /api/v1/up/executor/tasks): the
   * job it names fires now, and the task is recorded with it in one command.
   */
  async runOdmTask(task: { taskId: string; jobName: string; callbackRef: string; parameters: Readonly<Record<string, unknown>> }): Promise<ApplyResult> {
    const job = this.options.state.job(task.jobName);
    const atMs = this.options.now();
    const res = await this.options.log.submit({ type: CommandType.OdmTaskReceived, atMs, ...task, nodes: job ? this.nodesFor(job) : [this.options.nodeName] });
    if (res.ok) for (const e of res.executions) this.runner.run(e);
    return res;
  }

  /** Stop a run: committed first (waiting tasks never start), then its running tasks are stopped. */
  async stopRun(id: string): Promise<ApplyResult> {
    const res = await this.options.log.submit({ type: CommandType.StopRun, atMs: this.options.now(), runId: id });
    if (res.ok) {
      for (const t of this.options.state.run(id)?.tasks ?? []) {
        if (t.executionId !== null && t.state === 'running') this.runner.stop(t.executionId);
      }
    }
    return res;
  }

  async restartRun(id: string): Promise<ApplyResult> {
    return this.options.log.submit({ type: CommandType.RestartRun, atMs: this.options.now(), runId: id });
  }

  stopExecution(id: string): boolean {
    return this.runner.stop(id);
  }

  busy(): RunningExecution[] {
    return this.runner.busy();
  }

  async shutdown(): Promise<void> {
    this.stopLeading();
    await this.runner.shutdown();
  }

  // ---- planning ------------------------------------------------------------

  private planJob(name: string, job: Job | null): void {
    if (!this.leading) return;
    if (this.committing.has(name)) {
      this.replanAfterCommit.add(name);
      return;
    }
    if (!job) this.schedules.forget(name);
    const next = job ? this.schedules.firstUnsettled(job) : null;
    if (next === null) {
      this.fireHeap.delete(name);
      this.fireAt.delete(name);
    } else {
      this.setFire(name, next);
    }
    this.fireTimer.arm();
  }

  /** Wake for the job's fire due at `at`, planAheadMs before it. */
  private setFire(name: string, at: number): void {
    this.fireAt.set(name, at);
    this.fireHeap.set(name, at - this.planAheadMs);
  }

  private get timers(): Timers {
    return this.options.timers ?? nodeTimers;
  }

  /** Plan these jobs' fires, jobsPerPlanTurn jobs per event-loop turn. */
  private async fire(names: string[]): Promise<void> {
    const leadership = this.leaderships;
    for (let i = 0; i < names.length; i += jobsPerPlanTurn) {
      if (i > 0) {
        await new Promise<void>((resolve) => this.timers.setTimeout(resolve, 0));
        // Stopped leading meanwhile: leading again plans every job anew.
        if (!this.leading || leadership !== this.leaderships) return;
      }
      this.planSlice(names.slice(i, i + jobsPerPlanTurn));
    }
  }

  /**
   * Plan each job's fire: one due now is committed at once; one due later (it
   * woke planAheadMs early) is held and committed when it is due.
   */
  private planSlice(names: readonly string[]): void {
    const { state, now } = this.options;
    const atMs = now();
    const dueNow: DueJob[] = [];
    const ahead = new Map<number, { job: Job; due: DueJob }[]>();
    for (const name of names) {
      const at = this.fireAt.get(name);
      this.fireAt.delete(name);
      const job = state.job(name);
      if (!job) continue;
      const planAt = at !== undefined && at > atMs ? at : atMs;
      const plan = this.schedules.due(job, planAt);
      if (!plan) continue;
      const fires = plan.run.map((t): Fire => ({ jobName: name, scheduledAtMs: t, trigger: 'schedule', nodes: this.nodesFor(job), ...runIdFor(job) }));
      const skips = plan.skipped.map((s): Skip => ({ jobName: name, ...s }));
      const lastScheduled: ScheduledUpTo[] = plan.settledUpTo !== null ? [{ jobName: name, atMs: plan.settledUpTo, planned: plannedFor(job) }] : [];
      if (fires.length === 0 && skips.length === 0 && lastScheduled.length === 0) {
        if (plan.next !== null) this.setFire(name, plan.next);
        continue;
      }
      const due: DueJob = { name, fires, skips, lastScheduled, next: plan.next, bytes: dueBytes(fires, skips, lastScheduled) };
      this.committing.add(name);
      if (planAt === atMs) dueNow.push(due);
      else {
        const list = ahead.get(planAt);
        if (list) list.push({ job, due });
        else ahead.set(planAt, [{ job, due }]);
      }
    }
    for (const [at, jobs] of ahead) this.hold(at, jobs);
    if (dueNow.length > 0) void this.commitDue(atMs, dueNow);
    this.fireTimer.arm();
  }

  private hold(at: number, jobs: readonly { job: Job; due: DueJob }[]): void {
    const held = this.held.get(at);
    if (held) {
      held.jobs.push(...jobs);
      return;
    }
    const h: HeldFires = { at, jobs: [...jobs], timer: null };
    h.timer = this.timers.setTimeout(() => this.release(h), Math.max(0, at - this.options.now()));
    this.held.set(at, h);
  }

  /** Due now: commit what was planned ahead, unless its job changed meanwhile (then it is planned again, now). */
  private release(h: HeldFires): void {
    if (this.held.get(h.at) !== h) return;
    this.held.delete(h.at);
    // Timers may fire a little early: the fires are committed when due, not before.
    const early = h.at - this.options.now();
    if (early > 0) {
      h.timer = this.timers.setTimeout(() => this.release(h), early);
      this.held.set(h.at, h);
      return;
    }
    const { state } = this.options;
    const due: DueJob[] = [];
    for (const { job, due: d } of h.jobs) {
      const current = state.job(d.name);
      if (current && samePlanInputs(job, current)) {
        due.push(d);
        continue;
      }
      this.committing.delete(d.name);
      this.replanAfterCommit.delete(d.name);
      this.planJob(d.name, current ?? null);
    }
    if (due.length > 0) void this.commitDue(this.options.now(), due);
  }

  /** Commit due jobs' fires in commands of at most maxCommandBytes, and run what they start. */
  private async commitDue(atMs: number, due: readonly DueJob[]): Promise<void> {
    const max = this.options.maxCommandBytes ?? defaultMaxCommandBytes;
    await Promise.all(chunksOf(due, (d) => d.bytes + 1, max).map((chunk) => this.commitFires(atMs, chunk)));
    const names = due.map((d) => d.name);
    for (const name of names) this.committing.delete(name);
    if (!this.leading) return;
    this.replanChangedMeanwhile(names);
    this.fireTimer.arm();
  }

  /** Commit one RecordFires command for these jobs and run what it started (in halves if the log refuses it as too large). */
  private commitFires(atMs: number, due: readonly DueJob[]): Promise<void> {
    return submitSplitting(due, (part) => this.options.log.submit({
      type: CommandType.RecordFires, atMs,
      fires: part.flatMap((d) => d.fires), skips: part.flatMap((d) => d.skips), lastScheduled: part.flatMap((d) => d.lastScheduled),
    }), (part, outcome) => {
      if (outcome.ok) {
        if (outcome.result.ok) this.run(outcome.result.executions);
        if (this.leading) for (const d of part) if (d.next !== null) this.setFire(d.name, d.next);
        return;
      }
      this.options.onError?.(outcome.error);
      if (!this.leading) return;
      // Not committed: nothing ran and the bookkeeping did not move; plan these jobs again shortly.
      for (const d of part) {
        this.replanAfterCommit.delete(d.name);
        this.setFire(d.name, this.options.now() + retryPlanMs);
      }
    }, () => this.leading);
  }

  /** The nodes that run one fire of the job, chosen now and committed with the fire. */
  private nodesFor(job: Job): string[] {
    return this.options.chooser?.forFire(job) ?? [this.options.nodeName];
  }

  private replanChangedMeanwhile(names: readonly string[]): void {
    for (const name of names) {
      if (!this.replanAfterCommit.delete(name)) continue;
      this.planJob(name, this.options.state.job(name) ?? null);
    }
  }

  /** Run what a command started, and commit what their starts owe in notifications. */
  private run(executions: readonly Execution[]): void {
    this.toStart.push({ executions, next: 0, leadership: this.leaderships });
    this.startSome();
    this.options.notifier?.started(executions);
  }

  /** Hand committed executions to the runner, at most startsPerTurn in this event-loop turn (whatever the commands); the rest in the next turns. */
  private startSome(): void {
    while (this.toStart.length > 0 && this.turnStarts < startsPerTurn) {
      const batch = this.toStart[0] as StartQueue;
      // Stopped leading meanwhile (even if leading again): the rest stay running in the state, and the leader settles them.
      if (this.leading && batch.leadership === this.leaderships) {
        const end = Math.min(batch.executions.length, batch.next + startsPerTurn - this.turnStarts);
        this.turnStarts += end - batch.next;
        for (; batch.next < end; batch.next++) this.runner.run(batch.executions[batch.next] as Execution);
        if (batch.next < batch.executions.length) break;
      }
      this.toStart.shift();
    }
    if (this.startTurnQueued || this.turnStarts === 0) return;
    this.startTurnQueued = true;
    setImmediate(() => {
      this.startTurnQueued = false;
      this.turnStarts = 0;
      this.startSome();
    });
  }

  // ---- workflow runs -------------------------------------------------------

  private queueAdvance(id: string): void {
    if (!this.leading) return;
    if (this.advancing.has(id)) {
      this.advanceAgain.add(id);
      return;
    }
    this.advancing.add(id);
    // After the apply that changed the run has finished (events come from inside apply).
    queueMicrotask(() => void this.advance(id));
  }

  /** Ask the planner what the run does next and commit it. */
  private async advance(id: string): Promise<void> {
    const run = this.options.state.run(id);
    const plan = run ? planRun(run) : null;
    let retry = false;
    if (plan && !isEmptyPlan(plan) && this.leading) {
      try {
        const { start, notBefore, fail } = run ? this.notBefore(run, plan.start) : { start: plan.start, notBefore: {}, fail: [] };
        const res = await this.options.log.submit({
          type: CommandType.AdvanceRun, atMs: this.options.now(), runId: id, start, skip: plan.skip, ...(plan.finish ? { finish: plan.finish } : {}),
          ...(Object.keys(notBefore).length > 0 ? { notBefore } : {}), ...(fail.length > 0 ? { fail } : {}),
        });
        if (res.ok) this.schedulePending(res.executions);
      } catch (err) {
        this.options.onError?.(err);
        retry = true;
      }
    }
    this.advancing.delete(id);
    if (retry && this.leading) {
      this.timers.setTimeout(() => this.queueAdvance(id), retryPlanMs);
    } else if (this.advanceAgain.delete(id)) {
      this.queueAdvance(id);
    }
  }

  /** The times that tasks about to start wait for (their not_before, rendered), and those whose not_before names no time. */
  private notBefore(run: Run, names: readonly string[]): { start: string[]; notBefore: Record<string, number>; fail: { job: string; reason: string }[] } {
    const start: string[] = [];
    const notBefore: Record<string, number> = {};
    const fail: { job: string; reason: string }[] = [];
    for (const name of names) {
      const text = this.options.state.job(name)?.notBefore ?? '';
      if (text === '') {
        start.push(name);
        continue;
      }
      const rendered = renderTemplate(text, { params: taskParameters(run, name), runId: run.id, jobName: name, scheduledAtMs: run.scheduledAtMs });
      const at = 'text' in rendered && rfc3339.test(rendered.text.trim()) ? Date.parse(rendered.text.trim()) : Number.NaN;
      if ('error' in rendered) fail.push({ job: name, reason: `not_before: ${rendered.error}` });
      else if (Number.isNaN(at)) fail.push({ job: name, reason: `not_before: ${JSON.stringify(rendered.text)} is not an RFC3339 time` });
      else {
        start.push(name);
        notBefore[name] = at;
      }
    }
    return { start, notBefore, fail };
  }

  /** The executor config an execution runs with (templates rendered), and the parameters it sees. */
  private prepare(e: Execution, job: Job): { config: Readonly<Record<string, string>>; params: Readonly<Record<string, string>> } | { error: string } {
    const run = e.runId !== undefined ? this.options.state.run(e.runId) : undefined;
    const params = run ? taskParameters(run, job.name) : { ...(job.parameters ?? {}), ...(e.parameters ?? {}) };
    const rendered = renderConfig(job.executorConfig, {
      params, runId: e.runId ?? '', jobName: job.name, scheduledAtMs: run?.scheduledAtMs ?? e.scheduledAtMs,
    });
    if ('error' in rendered) return rendered;
    return { config: rendered.config, params };
  }

  // ---- pending executions (retries, child jobs) ----------------------------

  private schedulePending(created: readonly Execution[]): void {
    if (!this.leading) return;
    for (const e of created) if (e.state === 'pending') this.pendingHeap.set(e.id, e.notBeforeMs);
    this.pendingTimer.arm();
  }

  private async startPending(ids: string[]): Promise<void> {
    const { nodeName, now, state, chooser } = this.options;
    const nodeOf = (id: string): string => {
      const e = state.execution(id);
      const job = e ? state.job(e.jobName) : undefined;
      return chooser && e && job ? chooser.forStart(job, e) : nodeName;
    };
    const starts = ids.map((id) => ({ id, nodeName: nodeOf(id) }));
    const max = this.options.maxCommandBytes ?? defaultMaxCommandBytes;
    await Promise.all(chunksOf(starts, (st) => 31 + utf8Length(st.id) + utf8Length(st.nodeName), max).map((chunk) => submitSplitting(
      chunk,
      (part) => this.options.log.submit({ type: CommandType.StartExecutions, atMs: now(), starts: part }),
      (part, outcome) => {
        if (outcome.ok) {
          if (outcome.result.ok) this.run(outcome.result.executions);
          return;
        }
        this.options.onError?.(outcome.error);
        if (this.leading) for (const s of part) this.pendingHeap.set(s.id, now() + retryPlanMs);
        this.pendingTimer.arm();
      },
      () => this.leading,
    )));
  }
}

/** A fire of a workflow's root starts a run; its id is decided here, by the leader. */
function runIdFor(job: Job): { runId: string } | Record<string, never> {
  return job.dependentJobs.length > 0 && edgesOf(job).length === 0 ? { runId: randomUUID() } : {};
}

/**
 * About the encoded bytes of one due job's fires, skips and bookkeeping in a
 * RecordFires, on the high side, without encoding them only to measure (the
 * command is encoded once, when it is submitted; one the log still refuses
 * as too large is split).
 */
function dueBytes(fires: readonly Fire[], skips: readonly Skip[], lastScheduled: readonly ScheduledUpTo[]): number {
  let n = 0;
  for (const f of fires) {
    n += 100 + utf8Length(f.jobName) + (f.runId?.length ?? 0) + (f.parameters ? utf8Length(JSON.stringify(f.parameters)) : 0);
    for (const node of f.nodes) n += 3 + utf8Length(node);
  }
  for (const sk of skips) n += 120 + utf8Length(sk.jobName);
  for (const l of lastScheduled) n += 150 + utf8Length(l.jobName) + utf8Length(l.planned?.schedule ?? '') + utf8Length(l.planned?.timezone ?? '');
  return n;
}
