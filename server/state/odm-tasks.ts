// Open Data Mesh executor tasks, both ways, as replicated state.
//
// Outbound ("waits"): an execution of an `odm` job whose task was posted to
// an executor service and that waits for the service's callback. The wait
// lives here so that a new leader keeps waiting (the execution stays
// running) and a callback, once committed, is never lost. The callback's
// credential is a per-task token; only its SHA-256 is kept, and it is
// compared in constant time.
//
// Inbound ("tasks"): a task an ODM platform posted to Clocktower. It names a
// job (taskType) that runs as a manual fire; when that fire's executions
// settle, the task holds its result and a pending callback, which the leader
// delivers until the platform answers 2xx (then OdmCallbackDelivered).
//
// Pure: no clock, no random, no I/O. Times and tokens arrive in commands.

/** The callback's status as the ODM API spells it. */
export type OdmStatus = 'PROCESSED' | 'FAILED';

export interface OdmCallbackBody {
  readonly status: OdmStatus;
  /** JSON values as the service sent them. */
  readonly results: unknown;
  readonly errors: unknown;
  readonly atMs: number;
}

export interface OdmWait {
  readonly executionId: string;
  readonly jobName: string;
  readonly taskId: string;
  /** The service's registered name ("" when the job gave an address). */
  readonly service: string;
  readonly address: string;
  /** Lower-case hex SHA-256 of the callback token. */
  readonly tokenHash: string;
  readonly checkAfterCallback: boolean;
  readonly postedAtMs: number;
  /** No callback by then: the execution fails. */
  readonly deadlineMs: number;
  readonly callback: OdmCallbackBody | null;
}

export type InboundStatus = 'PROCESSING' | OdmStatus;

export interface InboundResults {
  readonly message: string;
  readonly executionTime: number;
  readonly output: string;
  readonly execution_id: string;
}

export interface InboundTask {
  readonly taskId: string;
  readonly jobName: string;
  readonly callbackRef: string;
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly receivedAtMs: number;
  /** The fire's execution group. */
  readonly group: string;
  readonly status: InboundStatus;
  readonly results: InboundResults | null;
  readonly finishedAtMs: number | null;
  /** The callback was answered 2xx (or there was nothing to call back). */
  readonly delivered: boolean;
}

export type OdmEvent =
  | { readonly kind: 'wait'; readonly wait: OdmWait; readonly removed: boolean }
  | { readonly kind: 'task'; readonly task: InboundTask };

/** Finished inbound tasks kept for GET .../status once their callback is delivered. */
export const inboundHistoryLimit = 1000;
/** Finished outbound waits remembered, so that a service repeating its callback is answered 200. */
export const endedWaitLimit = 1000;

export interface OdmSnapshot {
  readonly waits: readonly OdmWait[];
  readonly tasks: readonly InboundTask[];
  readonly ended?: readonly OdmWait[];
}

export class OdmTaskBook {
  private readonly waitsByExecution = new Map<string, OdmWait>();
  private readonly waitsByTask = new Map<string, OdmWait>();
  /** Waits whose execution finished, by task id, oldest first: a repeated callback is still answered 200. */
  private readonly ended = new Map<string, OdmWait>();
  private readonly tasks = new Map<string, InboundTask>();
  private readonly tasksByGroup = new Map<string, string>();
  /** Delivered tasks in the order they were delivered (the oldest dropped first). */
  private delivered: string[] = [];
  private readonly listeners = new Set<(event: OdmEvent) => void>();

  // ---- reading -------------------------------------------------------------

  waitOf(executionId: string): OdmWait | undefined {
    return this.waitsByExecution.get(executionId);
  }

  waitByTask(taskId: string): OdmWait | undefined {
    return this.waitsByTask.get(taskId);
  }

  waits(): OdmWait[] {
    return [...this.waitsByExecution.values()];
  }

  task(taskId: string): InboundTask | undefined {
    return this.tasks.get(taskId);
  }

  /** Inbound tasks whose result is known and whose callback is not delivered yet. */
  undelivered(): InboundTask[] {
    return [...this.tasks.values()].filter((t) => t.status !== 'PROCESSING' && !t.delivered);
  }

  subscribe(listener: (event: OdmEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- changing (called from apply) ------------------------------------------

  hasTaskId(taskId: string): boolean {
    return this.tasks.has(taskId) || this.waitsByTask.has(taskId) || this.ended.has(taskId);
  }

  addWait(wait: OdmWait): void {
    const old = this.waitsByExecution.get(wait.executionId);
    if (old) this.waitsByTask.delete(old.taskId);
    this.waitsByExecution.set(wait.executionId, wait);
    this.waitsByTask.set(wait.taskId, wait);
    this.emit({ kind: 'wait', wait, removed: false });
  }

  /**
   * Record a callback. 'unknown' when no wait has this task id or the token
   * does not match (the same answer, so a caller learns nothing), 'repeat'
   * when one was recorded before (nothing changes).
   */
  callback(taskId: string, tokenHash: string, body: OdmCallbackBody): 'recorded' | 'repeat' | 'unknown' {
    const ended = this.ended.get(taskId);
    if (ended) return sameHash(ended.tokenHash, tokenHash) ? 'repeat' : 'unknown';
    const wait = this.waitsByTask.get(taskId);
    if (!wait || !sameHash(wait.tokenHash, tokenHash)) return 'unknown';
    if (wait.callback !== null) return 'repeat';
    const next: OdmWait = { ...wait, callback: body };
    this.waitsByExecution.set(next.executionId, next);
    this.waitsByTask.set(next.taskId, next);
    this.emit({ kind: 'wait', wait: next, removed: false });
    return 'recorded';
  }

  /** The execution finished: its wait (if any) is over. */
  executionFinished(executionId: string): void {
    const wait = this.waitsByExecution.get(executionId);
    if (!wait) return;
    this.waitsByExecution.delete(executionId);
    this.waitsByTask.delete(wait.taskId);
    // Only what answers a repeat is kept (not the results a callback carried).
    this.ended.set(wait.taskId, { ...wait, callback: null });
    for (const old of this.ended.keys()) {
      if (this.ended.size <= endedWaitLimit) break;
      this.ended.delete(old);
    }
    this.emit({ kind: 'wait', wait, removed: true });
  }

  addTask(task: InboundTask): void {
    this.tasks.set(task.taskId, task);
    this.tasksByGroup.set(task.group, task.taskId);
    this.emit({ kind: 'task', task });
  }

  /** The group settled: the inbound task it belongs to (if any) has its result. */
  groupSettled(group: string, status: OdmStatus, results: InboundResults, atMs: number): void {
    const id = this.tasksByGroup.get(group);
    const task = id === undefined ? undefined : this.tasks.get(id);
    if (!task || task.status !== 'PROCESSING') return;
    this.tasksByGroup.delete(group);
    this.replaceTask({ ...task, status, results, finishedAtMs: atMs });
  }

  markDelivered(taskId: string): boolean {
    const task = this.tasks.get(taskId);
    if (!task || task.status === 'PROCESSING' || task.delivered) return false;
    this.replaceTask({ ...task, delivered: true });
    this.delivered.push(taskId);
    if (this.delivered.length > inboundHistoryLimit) {
      for (const old of this.delivered.splice(0, this.delivered.length - inboundHistoryLimit)) this.tasks.delete(old);
    }
    return true;
  }

  private replaceTask(task: InboundTask): void {
    this.tasks.set(task.taskId, task);
    this.emit({ kind: 'task', task });
  }

  // ---- snapshots -------------------------------------------------------------

  snapshot(): OdmSnapshot {
    const order = new Map(this.delivered.map((id, i) => [id, i]));
    const tasks = [...this.tasks.values()].sort((a, b) => (order.get(a.taskId) ?? -1) - (order.get(b.taskId) ?? -1));
    return { waits: this.waits(), tasks, ended: [...this.ended.values()] };
  }

  restore(snap: OdmSnapshot | undefined): void {
    this.waitsByExecution.clear();
    this.waitsByTask.clear();
    this.tasks.clear();
    this.tasksByGroup.clear();
    this.ended.clear();
    this.delivered = [];
    for (const w of snap?.ended ?? []) this.ended.set(w.taskId, w);
    for (const w of snap?.waits ?? []) {
      this.waitsByExecution.set(w.executionId, w);
      this.waitsByTask.set(w.taskId, w);
    }
    for (const t of snap?.tasks ?? []) {
      this.tasks.set(t.taskId, t);
      if (t.status === 'PROCESSING') this.tasksByGroup.set(t.group, t.taskId);
      if (t.delivered) this.delivered.push(t.taskId);
    }
  }

  private emit(event: OdmEvent): void {
    for (const l of this.listeners) l(event);
  }
}

/** Compare two strings in time that depends on their length only (a token hash has a fixed length). */
export function sameHash(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return diff === 0;
}
