// The replicated state machine: jobs, executions, skipped fires and the
// scheduler's bookkeeping.
//
// How it works: every server applies the same committed commands in the same
// order, so apply() must be deterministic. It reads no clock and draws no
// random number: command times (`atMs`), fire times and chosen nodes arrive
// inside the command. Ids come from a counter kept in the state itself.
// What follows from a result without a further decision (a retry after a
// failure, a child job after its parent succeeded, deleting an ephemeral job)
// happens right here in apply, so it happens exactly once even if the leader
// dies straight after the commit. Such follow-up executions are created
// `pending` with no node; the leader picks a node and starts them with a
// StartExecutions command.
//
// An unknown command type throws StateInvariantError: the node stops instead
// of silently diverging from its peers.

import {
  CommandType,
  drain,
  unframe,
  stillPlanned,
  type Command,
  type DeleteExecutions,
  type DeleteJob,
  type FinishExecutions,
  type PutJob,
  type PutJobs,
  type SetPaused,
  type DeclareSecretKeys,
  type RecordFires,
  type StartExecutions,
  type ToggleJob,
  type AclBootstrap,
  type PutAclToken,
  type DeleteAclToken,
  type PutAclPolicy,
  type DeleteAclPolicy,
  type AddNotifications,
  type NotificationOutcomes,
  type OdmCallback,
  type OdmTaskPosted,
  type OdmTaskReceived,
  type AdvanceRun,
  type StopRun,
  type RestartRun,
  type ExecutionResult,
} from './commands.js';
import { maxNotificationErrorChars, type Notification, type NotificationSpec } from './notification.js';
import { OdmTaskBook, type OdmSnapshot } from './odm-tasks.js';
import { clusterLevels, jobLevels, policyNamePattern, type AclPolicy, type AclToken, type PolicyRules } from './acl.js';
import { isFinished, type Execution, type SkippedFires, type Trigger } from './execution.js';
import { edgesOf, type Job, type JobChange, type JobSpec, type JobStatus, type JobVersion } from './job.js';
import { isTaskDone, type Run, type RunTask } from './run.js';
import { StateError, StateErrorCode, StateInvariantError } from './state-error.js';
import { validateJobSpec } from './validate-job.js';
import { compactSpec, jobWith, noDependents } from './compact-job.js';
import { framedSnapshot, writeSnapshot, type SnapshotCapture } from './snapshot-writer.js';
import { ExecErrorCode } from '../../common/error-codes.js';

export interface StateOptions {
  /** Executions kept per job; the oldest finished ones are dropped first (Dkron keeps 100). */
  readonly historyLimit: number;
  /** Versions (recorded changes) kept per job name, the oldest dropped first (default 20). */
  readonly versionLimit?: number;
}

export const defaultStateOptions: StateOptions = { historyLimit: 100 };

/** Who made a change when the command does not say (logs written before changes were attributed). */
export const unknownAuthor = 'unknown';

export type ApplyResult =
  | { readonly ok: true; readonly job?: Job; readonly executions: readonly Execution[]; readonly skips: readonly SkippedFires[] }
  | { readonly ok: false; readonly error: StateError };

/** Something apply() changed, for local observers (the leader's scheduler, the API's waiters). */
export type StateEvent =
  | { readonly kind: 'job'; readonly name: string; readonly job: Job | null }
  | { readonly kind: 'execution'; readonly execution: Execution }
  | { readonly kind: 'notification'; readonly notification: Notification }
  | { readonly kind: 'run'; readonly run: Run };

interface JobRecord {
  job: Job;
  /** Oldest first. */
  executions: Execution[];
  skips: SkippedFires[];
  /** Executions of this job that are pending or running. */
  active: number;
}

/** Retry backoff: 1 s after the first failed attempt, doubling, at most 5 minutes. */
export function retryBackoffMs(failedAttempt: number): number {
  return Math.min(1000 * 2 ** Math.max(0, failedAttempt - 1), 300_000);
}

/** The tail of an execution's output an inbound ODM task keeps for its callback. */
const inboundOutputChars = 64 * 1024;

const noEffects = { executions: [] as Execution[], skips: [] as SkippedFires[] };

export class StateMachine {
  private readonly records = new Map<string, JobRecord>();
  private readonly byId = new Map<string, Execution>();
  /** Per job name, outliving the job: its recorded changes, oldest first, and the next version number. */
  private readonly versionsByJob = new Map<string, { next: number; list: JobVersion[] }>();
  private nextSeq = 1;
  private pausedFlag = false;
  /** executor_config keys each executor declares secret, as nodes with it reported them (sorted, never shrinking). */
  private readonly secretKeysByExecutor = new Map<string, readonly string[]>();
  /** ACLs are on once bootstrapped (and stay on). */
  private aclBootstrapped = false;
  private readonly tokensByAccessor = new Map<string, AclToken>();
  private readonly tokensByHash = new Map<string, AclToken>();
  private readonly policiesByName = new Map<string, AclPolicy>();
  private appliedIndex = 0;
  /** Deliveries owed or made, by id; and their ids per execution, in the order they were added. */
  private readonly notificationsById = new Map<string, Notification>();
  private readonly notificationsByExecution = new Map<string, string[]>();
  /** Workflow runs by id, in creation order. */
  private readonly runsById = new Map<string, Run>();
  /** Each root job's runs, oldest first (for trimming without a scan of every run). */
  private readonly runIdsByRoot = new Map<string, Set<string>>();
  private readonly listeners = new Set<(event: StateEvent) => void>();
  /** Open Data Mesh tasks: executions waiting for a service's callback, and tasks handed to us. */
  readonly odm = new OdmTaskBook();

  constructor(private readonly options: StateOptions = defaultStateOptions) {}

  // ---- reading -------------------------------------------------------------

  get lastApplied(): number {
    return this.appliedIndex;
  }

  /** The cluster's scheduler is paused (POST /v1/pause): scheduled fires are skipped as `paused`. */
  get paused(): boolean {
    return this.pausedFlag;
  }

  /** The executor_config keys `executor` declares secret, as reported by the nodes that have it (sorted; [] when none did). */
  declaredSecretKeys(executor: string): readonly string[] {
    return this.secretKeysByExecutor.get(executor) ?? [];
  }

  /** ACLs are on: `acl bootstrap` has run. */
  get aclEnabled(): boolean {
    return this.aclBootstrapped;
  }

  /** The token whose secret hashes to `secretHash` (lower-case hex SHA-256). */
  tokenByHash(secretHash: string): AclToken | undefined {
    return this.tokensByHash.get(secretHash);
  }

  aclToken(accessor: string): AclToken | undefined {
    return this.tokensByAccessor.get(accessor);
  }

  /** Tokens in creation order. */
  aclTokens(): AclToken[] {
    return [...this.tokensByAccessor.values()];
  }

  aclPolicy(name: string): AclPolicy | undefined {
    return this.policiesByName.get(name);
  }

  /** Policies by name. */
  aclPolicies(): AclPolicy[] {
    return [...this.policiesByName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get jobCount(): number {
    return this.records.size;
  }

  jobs(): IterableIterator<Job> {
    return mapIter(this.records.values(), (r) => r.job);
  }

  job(name: string): Job | undefined {
    return this.records.get(name)?.job;
  }

  /** A job's executions, oldest first. */
  executionsOf(name: string): readonly Execution[] | undefined {
    return this.records.get(name)?.executions;
  }

  /** A job's recorded changes, oldest first (also after it was deleted). */
  versionsOf(name: string): readonly JobVersion[] {
    return this.versionsByJob.get(name)?.list ?? [];
  }

  execution(id: string): Execution | undefined {
    return this.byId.get(id);
  }

  run(id: string): Run | undefined {
    return this.runsById.get(id);
  }

  /** Runs, oldest first. */
  runs(): IterableIterator<Run> {
    return this.runsById.values();
  }

  /** Runs still under way. */
  activeRuns(): Run[] {
    return [...this.runsById.values()].filter((r) => r.state === 'running');
  }

  skipsOf(name: string): readonly SkippedFires[] | undefined {
    return this.records.get(name)?.skips;
  }

  /** Executions that are pending or running, in id order. */
  activeExecutions(): Execution[] {
    const out: Execution[] = [];
    for (const e of this.byId.values()) if (!isFinished(e)) out.push(e);
    return out.sort((a, b) => Number(a.id) - Number(b.id));
  }

  /** The deliveries of one execution, in the order they were added. */
  notificationsOf(executionId: string): Notification[] {
    const out: Notification[] = [];
    for (const id of this.notificationsByExecution.get(executionId) ?? []) {
      const n = this.notificationsById.get(id);
      if (n) out.push(n);
    }
    return out;
  }

  notification(id: string): Notification | undefined {
    return this.notificationsById.get(id);
  }

  /** Every delivery kept, in the order they were added. */
  notifications(): IterableIterator<Notification> {
    return this.notificationsById.values();
  }

  /** Deliveries not yet delivered or given up, the earliest due first. */
  pendingNotifications(): Notification[] {
    const out: Notification[] = [];
    for (const n of this.notificationsById.values()) if (n.state === 'pending') out.push(n);
    return out.sort((a, b) => a.nextAttemptMs - b.nextAttemptMs);
  }

  activeCount(jobName: string): number {
    return this.records.get(jobName)?.active ?? 0;
  }

  subscribe(listener: (event: StateEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- applying ------------------------------------------------------------

  /** Apply one committed command at log index `index`. */
  apply(command: Command, index: number): ApplyResult {
    if (index <= this.appliedIndex) {
      throw new StateInvariantError(`apply of index ${index} after ${this.appliedIndex}: entries must be applied once, in order`);
    }
    this.appliedIndex = index;
    try {
      return this.dispatch(command);
    } catch (err) {
      if (err instanceof StateError) return { ok: false, error: err };
      throw err;
    }
  }

  private dispatch(command: Command): ApplyResult {
    switch (command.type) {
      case CommandType.PutJob:
        return this.putJob(command);
      case CommandType.PutJobs:
        return this.putJobs(command);
      case CommandType.DeleteJob:
        return this.deleteJob(command);
      case CommandType.ToggleJob:
        return this.toggleJob(command);
      case CommandType.RecordFires:
        return this.recordFires(command);
      case CommandType.StartExecutions:
        return this.startExecutions(command);
      case CommandType.FinishExecutions:
        return this.finishExecutions(command);
      case CommandType.DeleteExecutions:
        return this.deleteExecutions(command);
      case CommandType.SetPaused:
        return this.setPaused(command);
      case CommandType.DeclareSecretKeys:
        return this.declareSecretKeys(command);
      case CommandType.AclBootstrap:
        return this.aclBootstrap(command);
      case CommandType.PutAclToken:
        return this.putAclToken(command);
      case CommandType.DeleteAclToken:
        return this.deleteAclToken(command);
      case CommandType.PutAclPolicy:
        return this.putAclPolicy(command);
      case CommandType.DeleteAclPolicy:
        return this.deleteAclPolicy(command);
      case CommandType.AddNotifications:
        return this.addNotifications(command);
      case CommandType.NotificationOutcomes:
        return this.notificationOutcomes(command);
      case CommandType.OdmTaskPosted:
        return this.odmTaskPosted(command);
      case CommandType.OdmCallback:
        return this.odmCallback(command);
      case CommandType.OdmTaskReceived:
        return this.odmTaskReceived(command);
      case CommandType.OdmCallbackDelivered:
        this.odm.markDelivered(command.taskId);
        return { ok: true, ...noEffects };
      case CommandType.AdvanceRun:
        return this.advanceRun(command);
      case CommandType.StopRun:
        return this.stopRun(command);
      case CommandType.RestartRun:
        return this.restartRun(command);
      default:
        throw new StateInvariantError(
          `unknown command type ${String((command as { type: unknown }).type)}: this server is older than the cluster's log; upgrade it`,
        );
    }
  }

  private putJob(c: PutJob, change?: JobChange): ApplyResult {
    this.checkPut(c.job, new Set());
    const existed = this.records.has(c.job.name);
    const job = this.upsert(c.job, c.atMs);
    const kind = change ?? (c.restoredFrom !== undefined ? 'restore' : existed ? 'update' : 'create');
    this.recordVersion(job.name, c.atMs, c.by, kind, job, c.restoredFrom);
    return { ok: true, job, ...noEffects };
  }

  private recordVersion(name: string, atMs: number, by: string | undefined, change: JobChange, spec: JobSpec | null, restoredFrom?: number): void {
    let v = this.versionsByJob.get(name);
    if (!v) this.versionsByJob.set(name, (v = { next: 1, list: [] }));
    v.list.push({ n: v.next++, atMs, by: by ?? unknownAuthor, change, spec, ...(restoredFrom === undefined ? {} : { restoredFrom }) });
    const limit = this.options.versionLimit ?? 20;
    if (v.list.length > limit) v.list.splice(0, v.list.length - limit);
  }

  /** All or nothing: every job is checked (against the others too) before any is stored. */
  private putJobs(c: PutJobs): ApplyResult {
    const incoming = new Set(c.jobs.map((j) => j.name));
    for (const spec of c.jobs) this.checkPut(spec, incoming);
    for (const spec of c.jobs) this.recordVersion(spec.name, c.atMs, c.by, 'import', this.upsert(spec, c.atMs));
    return { ok: true, ...noEffects };
  }

  private checkPut(spec: JobSpec, alsoComing: ReadonlySet<string>): void {
    const invalid = validateJobSpec(spec);
    if (invalid) throw invalid;
    const edges = edgesOf(spec);
    // Dkron's parent_job keeps Dkron's answers (404, 409); depends_on answers 400 naming the edge.
    const legacy = spec.parentJob !== '' && (spec.dependsOn ?? []).every((e) => e.job === spec.parentJob);
    for (const [i, e] of edges.entries()) {
      if (this.records.has(e.job) || alsoComing.has(e.job)) continue;
      if (legacy || e.job === spec.parentJob) throw new StateError(StateErrorCode.ParentNotFound, `specified parent job not found: ${spec.parentJob}`, 'parent_job');
      throw new StateError(StateErrorCode.InvalidJob, `depends_on[${i}].job: unknown upstream job ${e.job}`, `depends_on[${i}].job`);
    }
    // Walk up the stored graph: no new edge may close a loop.
    const cycle = this.findCycle(spec.name, edges.map((e) => e.job));
    if (cycle === null) return;
    const path = cycle.join(' -> ');
    if (legacy) throw new StateError(StateErrorCode.ParentCycle, `parent_job ${spec.parentJob} would make a cycle of parents (${path})`, 'parent_job');
    throw new StateError(StateErrorCode.InvalidJob, `depends_on: the edges would make a cycle: ${path}`, 'depends_on');
  }

  /** A path name -> ... -> name through the upstreams of `name` (given) and the stored jobs' edges, or null. */
  private findCycle(name: string, upstreams: readonly string[]): string[] | null {
    const seen = new Set<string>();
    const walk = (at: string, path: string[]): string[] | null => {
      if (at === name) return [...path, at];
      if (seen.has(at)) return null;
      seen.add(at);
      const job = this.records.get(at)?.job;
      if (!job) return null;
      for (const e of edgesOf(job)) {
        const found = walk(e.job, [...path, at]);
        if (found) return found;
      }
      return null;
    };
    for (const up of upstreams) {
      const found = walk(up, [name]);
      if (found) return found.reverse();
    }
    return null;
  }

  private upsert(spec: JobSpec, atMs: number): Job {
    const old = this.records.get(spec.name);
    const prev = old?.job;
    const scheduleChanged = !prev || prev.schedule !== spec.schedule || prev.timezone !== spec.timezone;
    const reenabled = prev !== undefined && prev.disabled && !spec.disabled;
    const job: Job = jobWith({
      ...compactSpec(spec),
      createdAtMs: prev?.createdAtMs ?? atMs,
      updatedAtMs: atMs,
      successCount: prev?.successCount ?? 0,
      errorCount: prev?.errorCount ?? 0,
      lastSuccessMs: prev?.lastSuccessMs ?? null,
      lastErrorMs: prev?.lastErrorMs ?? null,
      status: prev?.status ?? '',
      dependentJobs: prev?.dependentJobs ?? noDependents,
      anchorMs: scheduleChanged ? atMs : (prev?.anchorMs ?? atMs),
      // The bookmark never moves backwards: a leader whose clock is behind the
      // one that fired must not make an already fired second due again.
      lastScheduledMs: scheduleChanged || reenabled
        ? Math.max(atMs, prev?.lastScheduledMs ?? atMs)
        : (prev?.lastScheduledMs ?? atMs),
    });
    if (old) old.job = job;
    else this.records.set(spec.name, { job, executions: [], skips: [], active: 0 });
    const before = new Set(prev ? edgesOf(prev).map((e) => e.job) : []);
    const after = new Set(edgesOf(job).map((e) => e.job));
    for (const up of before) if (!after.has(up)) this.editDependents(up, (d) => d.filter((n) => n !== spec.name));
    for (const up of after) if (!before.has(up)) this.editDependents(up, (d) => [...d.filter((n) => n !== spec.name), spec.name]);
    this.emit({ kind: 'job', name: spec.name, job: this.records.get(spec.name)?.job ?? null });
    return this.mustRecord(spec.name).job;
  }

  private editDependents(parent: string, edit: (d: readonly string[]) => string[]): void {
    const r = this.records.get(parent);
    if (!r) return;
    r.job = jobWith(r.job, { dependentJobs: edit(r.job.dependentJobs) });
  }

  private deleteJob(c: DeleteJob): ApplyResult {
    const r = this.records.get(c.name);
    if (!r) throw notFound(c.name);
    if (r.job.dependentJobs.length > 0) {
      throw new StateError(
        StateErrorCode.HasDependents,
        `job ${c.name} has dependent jobs (${r.job.dependentJobs.join(', ')}): delete the children first`,
      );
    }
    this.removeJob(r, c.atMs);
    this.recordVersion(c.name, c.atMs, c.by, 'delete', null);
    return { ok: true, job: r.job, ...noEffects };
  }

  private removeJob(r: JobRecord, atMs: number): void {
    for (const e of edgesOf(r.job)) this.editDependents(e.job, (d) => d.filter((n) => n !== r.job.name));
    for (const e of r.executions) {
      this.byId.delete(e.id);
      this.dropNotificationsOf(e.id);
      this.odm.executionFinished(e.id);
      // An inbound task whose run never ended is owed an answer all the same.
      if (!isFinished(e)) {
        this.odm.groupSettled(e.group, 'FAILED', { message: `job ${r.job.name} was deleted before the task finished`, executionTime: 0, output: e.output, execution_id: e.id }, e.startedAtMs ?? e.notBeforeMs);
      }
    }
    // A task whose job is gone will never report: it fails, so its run can go on.
    for (const run of this.runsById.values()) {
      if (run.state !== 'running') {
        if (run.rootJob === r.job.name) this.dropRun(run);
        continue;
      }
      const task = run.tasks.find((t) => t.job === r.job.name);
      if (task && (task.state === 'pending' || task.state === 'running')) {
        this.putRun(withTask(run, task.job, { state: 'failed', finishedAtMs: atMs, reason: `job ${r.job.name} was deleted while it ran` }));
      }
    }
    this.records.delete(r.job.name);
    this.emit({ kind: 'job', name: r.job.name, job: null });
  }

  private setPaused(c: SetPaused): ApplyResult {
    this.pausedFlag = c.paused === true;
    return { ok: true, ...noEffects };
  }

  private declareSecretKeys(c: DeclareSecretKeys): ApplyResult {
    // What is not a name and its keys is left out (the leader builds this from what nodes reported).
    for (const d of Array.isArray(c.declared) ? c.declared : []) {
      if (typeof d.executor !== 'string' || d.executor === '' || !Array.isArray(d.keys)) continue;
      const keys = new Set([...this.declaredSecretKeys(d.executor), ...(d.keys as readonly unknown[]).filter((k): k is string => typeof k === 'string' && k !== '')]);
      this.secretKeysByExecutor.set(d.executor, [...keys].sort());
    }
    return { ok: true, ...noEffects };
  }

  // ---- access control ------------------------------------------------------

  private aclBootstrap(c: AclBootstrap): ApplyResult {
    if (this.aclBootstrapped) {
      throw new StateError(StateErrorCode.AclBootstrapped, 'ACLs are already bootstrapped: the first management token was handed out before; use a management token to create more');
    }
    this.storeToken({ ...c.token, management: true, createdAtMs: c.atMs });
    this.aclBootstrapped = true;
    return { ok: true, ...noEffects };
  }

  private putAclToken(c: PutAclToken): ApplyResult {
    if (!this.aclBootstrapped) throw new StateError(StateErrorCode.AclNotBootstrapped, 'ACLs are not bootstrapped: run `clocktower acl bootstrap` first');
    for (const p of c.token.policies) {
      if (!this.policiesByName.has(p)) throw new StateError(StateErrorCode.AclPolicyNotFound, `policy not found: ${p}`, 'policies');
    }
    this.storeToken({ ...c.token, createdAtMs: c.atMs });
    return { ok: true, ...noEffects };
  }

  private storeToken(token: AclToken): void {
    if (!/^[0-9a-f]{64}$/.test(token.secretHash)) throw new StateError(StateErrorCode.AclInvalid, 'a token secret hash is 64 lower-case hex digits', 'secret_hash');
    if (token.accessor === '' || this.tokensByAccessor.has(token.accessor) || this.tokensByHash.has(token.secretHash)) {
      throw new StateError(StateErrorCode.AclInvalid, 'a token with this accessor or secret exists already', 'accessor');
    }
    this.tokensByAccessor.set(token.accessor, token);
    this.tokensByHash.set(token.secretHash, token);
  }

  private deleteAclToken(c: DeleteAclToken): ApplyResult {
    const token = this.tokensByAccessor.get(c.accessor);
    if (!token) throw new StateError(StateErrorCode.AclTokenNotFound, `token not found: accessor ${c.accessor}`);
    this.tokensByAccessor.delete(token.accessor);
    this.tokensByHash.delete(token.secretHash);
    return { ok: true, ...noEffects };
  }

  private putAclPolicy(c: PutAclPolicy): ApplyResult {
    const { name, description, rules } = c.policy;
    if (!policyNamePattern.test(name)) {
      throw new StateError(StateErrorCode.AclInvalid, `policy name ${JSON.stringify(name)}: use lower-case letters a-z, digits, _ and -`, 'name');
    }
    checkRules(rules);
    const old = this.policiesByName.get(name);
    this.policiesByName.set(name, { name, description, rules, createdAtMs: old?.createdAtMs ?? c.atMs, updatedAtMs: c.atMs });
    return { ok: true, ...noEffects };
  }

  private deleteAclPolicy(c: DeleteAclPolicy): ApplyResult {
    if (!this.policiesByName.delete(c.name)) throw new StateError(StateErrorCode.AclPolicyNotFound, `policy not found: ${c.name}`);
    return { ok: true, ...noEffects };
  }

  // ---- Open Data Mesh tasks -------------------------------------------------

  private odmTaskPosted(c: OdmTaskPosted): ApplyResult {
    const e = this.byId.get(c.executionId);
    if (!e || isFinished(e)) return { ok: true, ...noEffects }; // finished (stopped) meanwhile: nothing to wait for
    if (this.odm.waitByTask(c.taskId) && this.odm.waitByTask(c.taskId)?.executionId !== c.executionId) {
      throw new StateError(StateErrorCode.OdmTaskExists, `an ODM task ${c.taskId} waits already`);
    }
    this.odm.addWait({
      executionId: c.executionId, jobName: e.jobName, taskId: c.taskId, service: c.service, address: c.address, tokenHash: c.tokenHash,
      checkAfterCallback: c.checkAfterCallback === true, postedAtMs: c.atMs, deadlineMs: c.deadlineMs, callback: null,
    });
    return { ok: true, ...noEffects };
  }

  private odmCallback(c: OdmCallback): ApplyResult {
    const outcome = this.odm.callback(c.taskId, c.tokenHash, { status: c.status, results: c.results ?? null, errors: c.errors ?? null, atMs: c.atMs });
    if (outcome === 'unknown') throw new StateError(StateErrorCode.OdmTaskNotFound, `no ODM task ${c.taskId} waits for this callback (unknown task or wrong token)`);
    return { ok: true, ...noEffects };
  }

  private odmTaskReceived(c: OdmTaskReceived): ApplyResult {
    if (this.odm.hasTaskId(c.taskId)) throw new StateError(StateErrorCode.OdmTaskExists, `task ${c.taskId} exists already: a taskId is used once`, 'taskId');
    if (!this.records.has(c.jobName)) throw new StateError(StateErrorCode.OdmUnknownTaskType, `taskType ${JSON.stringify(c.jobName)} names no job`, 'taskType');
    const res = this.recordFires({
      type: CommandType.RecordFires, atMs: c.atMs, skips: [], lastScheduled: [],
      fires: [{ jobName: c.jobName, scheduledAtMs: c.atMs, trigger: 'manual', nodes: c.nodes }],
    });
    if (!res.ok) return res;
    const group = res.executions[0]?.group;
    if (group === undefined) throw new StateError(StateErrorCode.OdmUnknownTaskType, `taskType ${JSON.stringify(c.jobName)}: the job started no execution`, 'taskType');
    this.odm.addTask({
      taskId: c.taskId, jobName: c.jobName, callbackRef: c.callbackRef, parameters: c.parameters, receivedAtMs: c.atMs,
      group, status: 'PROCESSING', results: null, finishedAtMs: null, delivered: c.callbackRef === '',
    });
    return res;
  }

  private toggleJob(c: ToggleJob): ApplyResult {
    const r = this.records.get(c.name);
    if (!r) throw notFound(c.name);
    const { disabled, ...spec } = r.job;
    return this.putJob({ type: CommandType.PutJob, atMs: c.atMs, job: { ...spec, disabled: !disabled }, ...(c.by === undefined ? {} : { by: c.by }) }, 'toggle');
  }

  private recordFires(c: RecordFires): ApplyResult {
    // A manual run is refused whole, before anything changes.
    for (const f of c.fires) {
      if (f.trigger !== 'manual') continue;
      const r = this.records.get(f.jobName);
      if (!r) throw notFound(f.jobName);
      if (r.job.concurrency === 'forbid' && r.active > 0) {
        throw new StateError(StateErrorCode.ForbidRunning, `job ${f.jobName} is running and its concurrency is "forbid"`);
      }
    }
    const executions: Execution[] = [];
    const skips: SkippedFires[] = [];
    // Jobs whose schedule changed after the leader planned: their plan is stale.
    const stale = new Set<string>();
    for (const { jobName, planned } of c.lastScheduled) {
      const job = this.records.get(jobName)?.job;
      if (job && !stillPlanned(planned, job)) stale.add(jobName);
    }
    for (const s of c.skips) {
      const r = this.records.get(s.jobName);
      if (r && !stale.has(s.jobName)) skips.push(this.addSkip(r, { ...s, recordedAtMs: c.atMs }));
    }
    for (const f of c.fires) {
      const r = this.records.get(f.jobName);
      if (!r) continue; // deleted after the leader planned the fire
      if (f.trigger === 'schedule' && stale.has(f.jobName)) continue;
      // Decided here, in apply, so a fire planned just before a pause is skipped exactly once on every server.
      if (this.pausedFlag && f.trigger === 'schedule') {
        skips.push(this.addPausedSkip(r, f.scheduledAtMs, c.atMs));
        continue;
      }
      if (r.job.concurrency === 'forbid' && r.active > 0) {
        skips.push(this.addSkip(r, {
          jobName: f.jobName, firstMs: f.scheduledAtMs, lastMs: f.scheduledAtMs, count: 1, reason: 'forbid_running', recordedAtMs: c.atMs,
        }));
        continue;
      }
      // A root with downstream jobs starts a run: the root is its first task.
      const isRoot = edgesOf(r.job).length === 0 && r.job.dependentJobs.length > 0 && f.nodes.length > 0;
      const runId = isRoot ? (f.runId ?? `run-${this.nextSeq}`) : undefined;
      const parameters = { ...(r.job.parameters ?? {}), ...(f.parameters ?? {}) };
      const extra = runId !== undefined
        ? { runId }
        : Object.keys(f.parameters ?? {}).length > 0 ? { parameters } : {};
      // One fire on several nodes (a tag's cardinality) is one group, as in Dkron: its status waits for all of them.
      let group: string | null = null;
      for (const node of f.nodes) {
        const id = this.newId();
        group ??= id;
        executions.push(this.addExecution(r, {
          id, jobName: f.jobName, group, attempt: 1, trigger: f.trigger, scheduledAtMs: f.scheduledAtMs,
          nodeName: node, notBeforeMs: c.atMs, startedAtMs: c.atMs, finishedAtMs: null, state: 'running',
          output: '', outputTruncated: false, exitCode: null, error: '', ...extra,
        }));
      }
      if (runId !== undefined && group !== null && !this.runsById.has(runId)) {
        this.createRun(r.job, runId, group, parameters, f.scheduledAtMs, c.atMs);
      }
    }
    for (const { jobName, atMs } of c.lastScheduled) {
      const r = this.records.get(jobName);
      if (r && !stale.has(jobName) && atMs > r.job.lastScheduledMs) r.job = jobWith(r.job, { lastScheduledMs: atMs });
    }
    return { ok: true, executions, skips };
  }

  private startExecutions(c: StartExecutions): ApplyResult {
    const executions: Execution[] = [];
    for (const { id, nodeName } of c.starts) {
      const e = this.byId.get(id);
      if (!e || e.state !== 'pending') continue; // finished or dropped meanwhile: starting twice changes nothing
      executions.push(this.replaceExecution({ ...e, nodeName, startedAtMs: c.atMs, state: 'running' }));
      if (e.runId !== undefined) this.editTask(e.runId, e.jobName, (t) => (t.executionId === id ? { state: 'running', startedAtMs: t.startedAtMs ?? c.atMs } : null));
    }
    return { ok: true, executions, skips: [] };
  }

  private finishExecutions(c: FinishExecutions): ApplyResult {
    const created: Execution[] = [];
    const owed = new Map<string, NotificationSpec[]>();
    for (const spec of c.notifications ?? []) {
      const list = owed.get(spec.executionId);
      if (list) list.push(spec);
      else owed.set(spec.executionId, [spec]);
    }
    for (const res of c.results) {
      const e = this.byId.get(res.id);
      if (!e || isFinished(e)) continue; // applied before, or its job is gone: once only
      const r = this.mustRecord(e.jobName);
      const done = this.replaceExecution({
        ...e,
        startedAtMs: e.startedAtMs ?? res.finishedAtMs,
        finishedAtMs: res.finishedAtMs,
        state: res.state,
        output: res.output,
        outputTruncated: res.outputTruncated,
        exitCode: res.exitCode,
        error: res.error,
        ...(res.paramsOut !== undefined && Object.keys(res.paramsOut).length > 0 ? { paramsOut: res.paramsOut } : {}),
        ...(res.errorCode !== undefined && res.errorCode !== '' ? { errorCode: res.errorCode } : {}),
      });
      // Stored before the group settles: an ephemeral job that goes with it leaves its deliveries pending.
      for (const spec of owed.get(done.id) ?? []) this.addNotification(spec, c.atMs);
      this.odm.executionFinished(done.id);
      const success = done.state === 'succeeded';
      r.job = success
        ? jobWith(r.job, { successCount: r.job.successCount + 1, lastSuccessMs: maxOrNull(r.job.lastSuccessMs, res.finishedAtMs) })
        : jobWith(r.job, { errorCount: r.job.errorCount + 1, lastErrorMs: maxOrNull(r.job.lastErrorMs, res.finishedAtMs) });
      if (!success && done.state !== 'stopped' && done.attempt < r.job.retries + 1) {
        // The retry starts without the failed attempt's code.
        const { errorCode: _code, ...base } = done;
        created.push(this.addExecution(r, {
          ...base, id: this.newId(), attempt: done.attempt + 1, trigger: 'retry', nodeName: '',
          notBeforeMs: res.finishedAtMs + retryBackoffMs(done.attempt), startedAtMs: null, finishedAtMs: null,
          state: 'pending', output: '', outputTruncated: false, exitCode: null, error: '',
        }));
        const retry = created[created.length - 1];
        if (done.runId !== undefined && retry) {
          this.editTask(done.runId, done.jobName, (t) => (t.executionId === done.group || t.executionId === done.id || t.state === 'running'
            ? { state: 'pending', executionId: retry.id, attempt: retry.attempt }
            : null));
        }
        continue;
      }
      created.push(...this.settleGroup(r, done, res));
    }
    return { ok: true, executions: created, skips: [] };
  }

  // ---- notifications -------------------------------------------------------

  private addNotifications(c: AddNotifications): ApplyResult {
    for (const spec of c.notifications) this.addNotification(spec, c.atMs);
    return { ok: true, ...noEffects };
  }

  /** Stores a delivery once (its id is derived from the execution); for an execution that no longer exists, nothing. */
  private addNotification(spec: NotificationSpec, atMs: number): void {
    if (this.notificationsById.has(spec.id) || !this.byId.has(spec.executionId)) return;
    const n: Notification = { ...spec, createdAtMs: atMs, state: 'pending', attempts: 0, lastError: '', nextAttemptMs: atMs, settledAtMs: null };
    this.notificationsById.set(n.id, n);
    const list = this.notificationsByExecution.get(n.executionId);
    if (list) list.push(n.id);
    else this.notificationsByExecution.set(n.executionId, [n.id]);
    this.emit({ kind: 'notification', notification: n });
  }

  private notificationOutcomes(c: NotificationOutcomes): ApplyResult {
    for (const o of c.outcomes) {
      const n = this.notificationsById.get(o.id);
      if (!n || n.state !== 'pending' || o.attempt !== n.attempts + 1) continue; // applied before or out of turn
      const state = o.delivered ? 'delivered' : o.nextAttemptMs === null ? 'failed' : 'pending';
      const next: Notification = {
        ...n,
        state,
        attempts: o.attempt,
        lastError: o.delivered ? '' : String(o.error).slice(0, maxNotificationErrorChars),
        nextAttemptMs: state === 'pending' ? (o.nextAttemptMs ?? c.atMs) : n.nextAttemptMs,
        settledAtMs: state === 'pending' ? null : c.atMs,
      };
      this.notificationsById.set(n.id, next);
      // Its execution left the history while the delivery was pending: the record goes with it now.
      if (state !== 'pending' && !this.byId.has(n.executionId)) this.dropNotificationsOf(n.executionId);
      this.emit({ kind: 'notification', notification: next });
    }
    return { ok: true, ...noEffects };
  }

  /** An execution left the history: its settled deliveries go with it (pending ones stay until they settle). */
  private dropNotificationsOf(executionId: string): void {
    const ids = this.notificationsByExecution.get(executionId);
    if (!ids) return;
    const keep = ids.filter((id) => {
      if (this.notificationsById.get(id)?.state === 'pending') return true;
      this.notificationsById.delete(id);
      return false;
    });
    if (keep.length > 0) this.notificationsByExecution.set(executionId, keep);
    else this.notificationsByExecution.delete(executionId);
  }

  /** When the last execution of a group ends: job status, children (or the run's task), ephemeral deletion. */
  private settleGroup(r: JobRecord, last: Execution, res: ExecutionResult): Execution[] {
    const group = last.group;
    const atMs = res.finishedAtMs;
    // Final attempt per node decides (a retry that succeeded makes the group a success).
    const finalByNode = new Map<string, Execution>();
    for (const e of r.executions) {
      if (e.group !== group) continue;
      if (!isFinished(e)) return [];
      const prev = finalByNode.get(e.nodeName);
      if (!prev || e.attempt > prev.attempt) finalByNode.set(e.nodeName, e);
    }
    const finals = [...finalByNode.values()];
    const ok = finals.filter((e) => e.state === 'succeeded').length;
    const status: JobStatus = ok === finals.length ? 'success' : ok === 0 ? 'failed' : 'partially_failed';
    r.job = jobWith(r.job, { status });
    this.emit({ kind: 'job', name: r.job.name, job: r.job });
    // An inbound ODM task of this group is answered with the newest of its executions.
    const latest = finals.reduce<Execution | undefined>((a, e) => (a === undefined || Number(e.id) > Number(a.id) ? e : a), undefined);
    if (latest) {
      this.odm.groupSettled(group, status === 'success' ? 'PROCESSED' : 'FAILED', {
        message: latest.error !== '' ? latest.error : `job ${r.job.name}: ${status}`,
        executionTime: (latest.finishedAtMs ?? atMs) - (latest.startedAtMs ?? atMs),
        output: latest.output.length > inboundOutputChars ? latest.output.slice(-inboundOutputChars) : latest.output,
        execution_id: latest.id,
      }, atMs);
    }
    if (last.runId !== undefined) {
      // The run's planner (on the leader) decides what this unlocks.
      const stopped = finals.some((e) => e.state === 'stopped');
      this.editTask(last.runId, last.jobName, (t) => (isTaskDone(t.state) ? null : {
        state: status === 'success' ? 'succeeded' : stopped ? 'stopped' : 'failed',
        finishedAtMs: atMs,
        exitCode: res.exitCode,
        reason: status === 'success' ? '' : res.error,
        paramsOut: res.paramsOut ?? {},
        output: this.outputNeeded(last.runId ?? '', last.jobName) ? res.output : '',
      }));
      if (status === 'success' && r.job.ephemeral && r.job.dependentJobs.length === 0) {
        this.removeJob(r, atMs);
        this.recordVersion(r.job.name, atMs, 'clocktower', 'delete', null);
      }
      return [];
    }
    if (status !== 'success') return [];
    const children: Execution[] = [];
    for (const childName of r.job.dependentJobs) {
      const child = this.records.get(childName);
      // Outside a run (a manual run of a job that has upstreams), Dkron's chain: plain parent_job children only.
      if (!child || child.job.disabled || child.job.parentJob !== r.job.name) continue;
      if (child.job.concurrency === 'forbid' && child.active > 0) {
        this.addSkip(child, { jobName: childName, firstMs: atMs, lastMs: atMs, count: 1, reason: 'forbid_running', recordedAtMs: atMs });
        continue;
      }
      children.push(this.pendingExecution(child, 'parent', atMs));
    }
    if (r.job.ephemeral && r.job.dependentJobs.length === 0) {
      this.removeJob(r, atMs);
      this.recordVersion(r.job.name, atMs, 'clocktower', 'delete', null);
    }
    return children;
  }

  private pendingExecution(r: JobRecord, trigger: Trigger, atMs: number, runId?: string, notBeforeMs?: number): Execution {
    const id = this.newId();
    return this.addExecution(r, {
      id, jobName: r.job.name, group: id, attempt: 1, trigger, scheduledAtMs: atMs, nodeName: '',
      notBeforeMs: Math.max(atMs, notBeforeMs ?? atMs), startedAtMs: null, finishedAtMs: null, state: 'pending',
      output: '', outputTruncated: false, exitCode: null, error: '', ...(runId === undefined ? {} : { runId }),
    });
  }

  // ---- workflow runs -------------------------------------------------------

  /** A run of `root` and every job downstream of it, upstreams first; the root's execution already runs. */
  private createRun(root: Job, id: string, group: string, parameters: Record<string, string>, scheduledAtMs: number, atMs: number): void {
    const members = new Set<string>([root.name]);
    const queue = [root.name];
    for (let at = queue.shift(); at !== undefined; at = queue.shift()) {
      for (const d of this.records.get(at)?.job.dependentJobs ?? []) {
        if (!members.has(d)) {
          members.add(d);
          queue.push(d);
        }
      }
    }
    // Kahn's order within the members (the graph is acyclic: puts refuse a cycle).
    const order: string[] = [];
    const placed = new Set<string>();
    while (order.length < members.size) {
      const before = order.length;
      for (const m of members) {
        if (placed.has(m)) continue;
        const job = this.records.get(m)?.job;
        const ups = job ? edgesOf(job).map((e) => e.job).filter((u) => members.has(u)) : [];
        if (ups.every((u) => placed.has(u))) {
          placed.add(m);
          order.push(m);
        }
      }
      if (order.length === before) throw new StateInvariantError(`the jobs downstream of ${root.name} form a cycle`);
    }
    const tasks: RunTask[] = order.map((name) => {
      const job = this.mustRecord(name).job;
      const isRoot = name === root.name;
      return {
        job: name, edges: isRoot ? [] : edgesOf(job), triggerRule: job.triggerRule ?? 'all',
        state: isRoot ? 'running' : 'waiting', executionId: isRoot ? group : null, attempt: isRoot ? 1 : 0,
        startedAtMs: isRoot ? atMs : null, finishedAtMs: null, reason: '', paramsOut: {}, exitCode: null, output: '',
      };
    });
    this.putRun({ id, rootJob: root.name, state: 'running', parameters, scheduledAtMs, createdAtMs: atMs, finishedAtMs: null, reason: '', tasks });
    this.trimRuns(root.name);
  }

  /** Finished runs of one root beyond the history limit go, oldest first. */
  private trimRuns(rootJob: string): void {
    const ids = this.runIdsByRoot.get(rootJob);
    if (ids === undefined) return;
    let excess = ids.size - this.options.historyLimit;
    for (const id of ids) {
      if (excess <= 0) break;
      const run = this.runsById.get(id);
      if (run === undefined || run.state === 'running') continue;
      this.dropRun(run);
      excess--;
    }
  }

  private putRun(run: Run): void {
    this.storeRun(run);
    this.emit({ kind: 'run', run });
  }

  private storeRun(run: Run): void {
    this.runsById.set(run.id, run);
    const ids = this.runIdsByRoot.get(run.rootJob);
    if (ids === undefined) this.runIdsByRoot.set(run.rootJob, new Set([run.id]));
    else ids.add(run.id);
  }

  private dropRun(run: Run): void {
    this.runsById.delete(run.id);
    const ids = this.runIdsByRoot.get(run.rootJob);
    ids?.delete(run.id);
    if (ids?.size === 0) this.runIdsByRoot.delete(run.rootJob);
  }

  /** Change one task of a run; `edit` returns the changes, or null for none. */
  private editTask(runId: string, job: string, edit: (t: RunTask) => Partial<RunTask> | null): void {
    const run = this.runsById.get(runId);
    const task = run?.tasks.find((t) => t.job === job);
    if (!run || !task) return;
    const patch = edit(task);
    if (patch !== null) this.putRun(withTask(run, job, patch));
  }

  /** Whether an edge of the run decides on this task's output (only then is it kept). */
  private outputNeeded(runId: string, job: string): boolean {
    return this.runsById.get(runId)?.tasks.some((t) => t.edges.some((e) => e.job === job && e.outputMatches !== undefined)) ?? false;
  }

  private advanceRun(c: AdvanceRun): ApplyResult {
    let run = this.runsById.get(c.runId);
    if (!run || run.state !== 'running') return { ok: true, ...noEffects }; // ended meanwhile: a stale decision
    const executions: Execution[] = [];
    const waiting = (job: string): RunTask | undefined => run?.tasks.find((t) => t.job === job && t.state === 'waiting');
    for (const s of c.skip) {
      if (waiting(s.job)) run = withTask(run, s.job, { state: 'skipped', finishedAtMs: c.atMs, reason: s.reason });
    }
    for (const f of c.fail ?? []) {
      if (waiting(f.job)) run = withTask(run, f.job, { state: 'failed', finishedAtMs: c.atMs, reason: f.reason });
    }
    for (const name of c.start) {
      if (!waiting(name)) continue; // started before: once per run
      const r = this.records.get(name);
      if (!r) {
        run = withTask(run, name, { state: 'failed', finishedAtMs: c.atMs, reason: `job ${name} was deleted` });
      } else if (r.job.disabled) {
        run = withTask(run, name, { state: 'skipped', finishedAtMs: c.atMs, reason: 'the job is disabled' });
      } else if (r.job.concurrency === 'forbid' && r.active > 0) {
        run = withTask(run, name, { state: 'skipped', finishedAtMs: c.atMs, reason: 'the job is running and its concurrency is "forbid"' });
      } else {
        const at = c.notBefore !== undefined && Object.hasOwn(c.notBefore, name) ? c.notBefore[name] : undefined;
        const e = this.pendingExecution(r, name === run.rootJob ? 'manual' : 'parent', c.atMs, run.id, at);
        executions.push(e);
        run = withTask(run, name, { state: 'pending', executionId: e.id, attempt: 1, startedAtMs: null, finishedAtMs: null, reason: '' });
      }
    }
    if (c.finish && run.tasks.every((t) => isTaskDone(t.state))) {
      run = { ...run, state: c.finish.state, finishedAtMs: c.atMs, reason: c.finish.reason };
    }
    this.putRun(run);
    return { ok: true, executions, skips: [] };
  }

  private mustRun(id: string): Run {
    const run = this.runsById.get(id);
    if (!run) throw new StateError(StateErrorCode.RunNotFound, `run not found: ${id}`);
    return run;
  }

  private stopRun(c: StopRun): ApplyResult {
    let run = this.mustRun(c.runId);
    if (run.state !== 'running') throw new StateError(StateErrorCode.RunFinished, `run ${run.id} is not running (it ${run.state})`);
    const executions: Execution[] = [];
    for (const t of run.tasks) {
      if (t.state === 'waiting') run = withTask(run, t.job, { state: 'stopped', finishedAtMs: c.atMs, reason: 'the run was stopped' });
      if (t.state !== 'pending' || t.executionId === null) continue;
      const e = this.byId.get(t.executionId);
      if (e && e.state === 'pending') {
        executions.push(this.replaceExecution({ ...e, state: 'stopped', finishedAtMs: c.atMs, error: 'stopped on request: the run was stopped', errorCode: ExecErrorCode.Stopped }));
      }
      run = withTask(run, t.job, { state: 'stopped', finishedAtMs: c.atMs, reason: 'the run was stopped' });
    }
    // Running tasks are stopped by the leader; their results land as stopped.
    this.putRun({ ...run, state: 'stopped', finishedAtMs: c.atMs, reason: 'stopped on request' });
    return { ok: true, executions, skips: [] };
  }

  private restartRun(c: RestartRun): ApplyResult {
    let run = this.mustRun(c.runId);
    if (run.state === 'running') throw new StateError(StateErrorCode.RunNotFinished, `run ${run.id} is still running: stop it or wait for it to end`);
    for (const t of run.tasks) {
      if (t.state === 'succeeded' || t.state === 'pending' || t.state === 'running') continue;
      run = withTask(run, t.job, {
        state: 'waiting', executionId: null, attempt: 0, startedAtMs: null, finishedAtMs: null, reason: '', paramsOut: {}, exitCode: null, output: '',
      });
    }
    this.putRun({ ...run, state: 'running', finishedAtMs: null, reason: '' });
    return { ok: true, ...noEffects };
  }

  private deleteExecutions(c: DeleteExecutions): ApplyResult {
    const r = this.records.get(c.name);
    if (!r) throw notFound(c.name);
    // Running ones stay: their results still have somewhere to land.
    const keep = r.executions.filter((e) => !isFinished(e));
    for (const e of r.executions) {
      if (!isFinished(e)) continue;
      this.byId.delete(e.id);
      this.dropNotificationsOf(e.id);
    }
    r.executions = keep;
    r.skips = [];
    r.job = jobWith(r.job, { successCount: 0, errorCount: 0, lastSuccessMs: null, lastErrorMs: null, status: '' });
    this.emit({ kind: 'job', name: c.name, job: r.job });
    return { ok: true, job: r.job, ...noEffects };
  }

  // ---- helpers -------------------------------------------------------------

  private newId(): string {
    return String(this.nextSeq++);
  }

  private addExecution(r: JobRecord, e: Execution): Execution {
    r.executions.push(e);
    this.byId.set(e.id, e);
    if (!isFinished(e)) r.active++;
    this.trimHistory(r);
    this.emit({ kind: 'execution', execution: e });
    return e;
  }

  private replaceExecution(e: Execution): Execution {
    const r = this.mustRecord(e.jobName);
    const i = r.executions.findLastIndex((x) => x.id === e.id);
    const old = r.executions[i];
    if (!old) throw new StateInvariantError(`execution ${e.id} is indexed but not in its job's history`);
    r.executions[i] = e;
    this.byId.set(e.id, e);
    r.active += (isFinished(e) ? 0 : 1) - (isFinished(old) ? 0 : 1);
    this.emit({ kind: 'execution', execution: e });
    return e;
  }

  /** Drop the oldest finished executions beyond the limit; active ones are never dropped. */
  private trimHistory(r: JobRecord): void {
    let excess = r.executions.length - this.options.historyLimit;
    if (excess <= 0) return;
    r.executions = r.executions.filter((e) => {
      if (excess > 0 && isFinished(e)) {
        excess--;
        this.byId.delete(e.id);
        this.dropNotificationsOf(e.id);
        return false;
      }
      return true;
    });
  }

  /** One paused fire; consecutive ones share one stored range (the answer still counts this one alone). */
  private addPausedSkip(r: JobRecord, atMs: number, recordedAtMs: number): SkippedFires {
    const one: SkippedFires = { jobName: r.job.name, firstMs: atMs, lastMs: atMs, count: 1, reason: 'paused', recordedAtMs };
    const last = r.skips.at(-1);
    if (last?.reason === 'paused' && last.lastMs < atMs) {
      r.skips[r.skips.length - 1] = { ...last, lastMs: atMs, count: last.count + 1, recordedAtMs };
      return one;
    }
    return this.addSkip(r, one);
  }

  private addSkip(r: JobRecord, s: SkippedFires): SkippedFires {
    r.skips.push(s);
    if (r.skips.length > this.options.historyLimit) r.skips.shift();
    return s;
  }

  private mustRecord(name: string): JobRecord {
    const r = this.records.get(name);
    if (!r) throw new StateInvariantError(`job ${name} vanished during apply`);
    return r;
  }

  private emit(event: StateEvent): void {
    for (const l of this.listeners) l(event);
  }

  // ---- snapshots -----------------------------------------------------------

  /** The whole state, serialised at once (see snapshot-writer.ts for the format). */
  snapshot(): Uint8Array {
    return drain(this.snapshotSlices());
  }

  /**
   * The state as it is now, serialised one slice per next(), so the caller
   * can give the event loop back between slices; commands applied meanwhile
   * are not in it. The iterator's value is the snapshot.
   */
  snapshotSlices(): Iterator<void, Uint8Array> {
    return writeSnapshot(this.captureSnapshot());
  }

  /** Shares the (never changed in place) objects; copies only the lists that change. */
  private captureSnapshot(): SnapshotCapture {
    return {
      nextSeq: this.nextSeq,
      appliedIndex: this.appliedIndex,
      paused: this.pausedFlag,
      jobs: [...this.records.values()].map((r) => ({ job: r.job, executions: r.executions.slice(), skips: r.skips.slice() })),
      versions: [...this.versionsByJob].map(([name, v]) => ({ name, next: v.next, list: v.list.slice() })),
      acl: { bootstrapped: this.aclBootstrapped, tokens: [...this.tokensByAccessor.values()], policies: [...this.policiesByName.values()] },
      notifications: [...this.notificationsById.values()],
      odm: this.odm.snapshot(),
      runs: [...this.runsById.values()],
      secretKeys: [...this.secretKeysByExecutor].map(([executor, keys]) => ({ executor, keys })),
    };
  }

  restore(data: Uint8Array): void {
    let parsed: SnapshotShape;
    if (data[0] === framedSnapshot) {
      const { head, blob } = unframe(data, 'snapshot');
      const h = head as SnapshotShape & { jobs: { executions: (Omit<Execution, 'output'> & { output: unknown })[] }[] };
      if (h.v !== 2) throw new StateInvariantError(`snapshot format ${String(h.v)} is not known to this server`);
      parsed = { ...h, jobs: h.jobs.map((j) => ({ ...j, executions: j.executions.map((e) => ({ ...e, output: blob(e.output) })) })) };
    } else {
      parsed = JSON.parse(new TextDecoder().decode(data)) as SnapshotShape;
      if (parsed.v !== 1) throw new StateInvariantError(`snapshot format ${String(parsed.v)} is not known to this server`);
    }
    this.records.clear();
    this.byId.clear();
    this.versionsByJob.clear();
    // Snapshots taken before versions were recorded have none.
    for (const { name, next, list } of parsed.versions ?? []) this.versionsByJob.set(name, { next, list });
    this.nextSeq = parsed.nextSeq;
    this.appliedIndex = parsed.appliedIndex;
    this.pausedFlag = parsed.paused === true; // absent in snapshots taken before pause existed
    this.secretKeysByExecutor.clear();
    for (const { executor, keys } of parsed.secretKeys ?? []) this.secretKeysByExecutor.set(executor, keys); // absent before declared secret keys
    // Absent in snapshots taken before ACLs existed.
    this.aclBootstrapped = parsed.acl?.bootstrapped === true;
    this.tokensByAccessor.clear();
    this.tokensByHash.clear();
    this.policiesByName.clear();
    for (const token of parsed.acl?.tokens ?? []) {
      this.tokensByAccessor.set(token.accessor, token);
      this.tokensByHash.set(token.secretHash, token);
    }
    for (const policy of parsed.acl?.policies ?? []) this.policiesByName.set(policy.name, policy);
    // Absent in snapshots taken before notifications existed.
    this.notificationsById.clear();
    this.notificationsByExecution.clear();
    for (const n of parsed.notifications ?? []) {
      this.notificationsById.set(n.id, n);
      const list = this.notificationsByExecution.get(n.executionId);
      if (list) list.push(n.id);
      else this.notificationsByExecution.set(n.executionId, [n.id]);
    }
    this.odm.restore(parsed.odm); // absent in snapshots taken before ODM tasks existed
    this.runsById.clear();
    this.runIdsByRoot.clear();
    for (const run of parsed.runs ?? []) this.storeRun(run); // absent before workflows
    for (const { job, executions, skips } of parsed.jobs) {
      const active = executions.filter((e) => !isFinished(e)).length;
      this.records.set(job.name, { job: jobWith(job), executions, skips, active });
      for (const e of executions) this.byId.set(e.id, e);
    }
  }
}

/** A snapshot's first byte: `{` for the JSON form (v1), this for the framed form (v2). */

interface SnapshotShape {
  v: number;
  nextSeq: number;
  appliedIndex: number;
  paused?: boolean;
  jobs: { job: Job; executions: Execution[]; skips: SkippedFires[] }[];
  versions?: { name: string; next: number; list: JobVersion[] }[];
  acl?: { bootstrapped: boolean; tokens: AclToken[]; policies: AclPolicy[] };
  notifications?: Notification[];
  odm?: OdmSnapshot;
  runs?: Run[];
  secretKeys?: { executor: string; keys: string[] }[];
}

function withTask(run: Run, job: string, patch: Partial<RunTask>): Run {
  return { ...run, tasks: run.tasks.map((t) => (t.job === job ? { ...t, ...patch } : t)) };
}

/** Levels a policy may name, checked again in apply (the API parses the policy file). */
function checkRules(rules: PolicyRules): void {
  if (typeof rules !== 'object' || rules === null || typeof rules.jobs !== 'object' || rules.jobs === null) {
    throw new StateError(StateErrorCode.AclInvalid, 'policy rules need a jobs object', 'rules');
  }
  for (const [prefix, level] of Object.entries(rules.jobs)) {
    if (!jobLevels.includes(level)) throw new StateError(StateErrorCode.AclInvalid, `job prefix ${JSON.stringify(prefix)}: level ${JSON.stringify(level)} is not one of ${jobLevels.join(', ')}`, 'jobs');
  }
  for (const key of ['operator', 'acl'] as const) {
    const level = rules[key];
    if (level !== undefined && !clusterLevels.includes(level)) {
      throw new StateError(StateErrorCode.AclInvalid, `${key}: level ${JSON.stringify(level)} is not one of ${clusterLevels.join(', ')}`, key);
    }
  }
}

function notFound(name: string): StateError {
  return new StateError(StateErrorCode.JobNotFound, `job not found: ${name}`);
}

function maxOrNull(a: number | null, b: number): number {
  return a === null ? b : Math.max(a, b);
}

function* mapIter<A, B>(it: Iterable<A>, f: (a: A) => B): IterableIterator<B> {
  for (const a of it) yield f(a);
}
