// The `odm` executor: runs a job's task on an Open Data Mesh executor
// service, on the leader, and hands every other executor to the host it wraps.
//
// How it works: the leader draws a task id and a callback token, commits the
// wait (OdmTaskPosted: only the token's hash), then posts
// `{taskId, taskType, callbackRef, parameters}` to the service. The execution
// stays running; nothing but a promise and a timer is held while it waits.
// The service's PATCH on callbackRef is committed by the API (OdmCallback),
// and the state's event wakes the wait here; with checkAfterCallback the
// service's own status is asked for and reconciled. A new leader finds the
// wait in the state (resume) and waits on, with the deadline it recorded.

import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { request } from 'undici';
import { setLongTimeout, type LongTimeout } from '../../../common/long-timeout.js';
import { CommandType } from '../../state/commands.js';
import type { CommandLog } from '../../state/command-log.js';
import type { Execution } from '../../state/execution.js';
import type { Job } from '../../state/job.js';
import type { OdmWait } from '../../state/odm-tasks.js';
import type { StateMachine } from '../../state/state-machine.js';
import type { NodeChooser } from '../agent-executor-host.js';
import type { ExecutorHost, OutputSink, RunOutcome, RunRequest } from '../executor-host.js';
import { odmExecutorName, parseOdmJobConfig, type OdmServices } from './odm-config.js';

export interface OdmHostOptions {
  readonly state: StateMachine;
  readonly log: CommandLog;
  readonly now: () => number;
  /** This server's node name: `odm` executions are recorded on the leader. */
  readonly selfNode: string;
  readonly services: OdmServices;
  /** The base URL executor services call back on (this server's API). */
  readonly callbackBase: () => string;
  /** How long one HTTP call to a service may take. */
  readonly requestTimeoutMs?: number;
}

/** The route executor services call back on; the token is the credential. */
export function callbackPath(taskId: string, token: string): string {
  return `/v1/odm/callbacks/${encodeURIComponent(taskId)}/${token}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

interface Waiter {
  wake(): void;
}

export class OdmExecutorHost implements ExecutorHost, NodeChooser {
  private readonly waiters = new Map<string, Waiter>();
  private readonly abandoners = new Set<() => void>();
  /** Counts step-downs: a run that began before one gives up instead of waiting on a follower. */
  private epoch = 0;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly options: OdmHostOptions,
    private readonly inner: ExecutorHost,
    private readonly innerChooser?: NodeChooser,
  ) {
    this.unsubscribe = options.state.odm.subscribe((ev) => {
      if (ev.kind === 'wait' && ev.wait.callback !== null) this.waiters.get(ev.wait.executionId)?.wake();
    });
  }

  // ---- ExecutorHost --------------------------------------------------------

  execute(executor: string, req: RunRequest, output: OutputSink, signal: AbortSignal): Promise<RunOutcome> {
    if (executor !== odmExecutorName) return this.inner.execute(executor, req, output, signal);
    return this.run(req, output, signal);
  }

  validate(executor: string, config: Readonly<Record<string, string>>): string | null | Promise<string | null> {
    if (executor !== odmExecutorName) return this.inner.validate?.(executor, config) ?? null;
    const parsed = parseOdmJobConfig(config);
    return typeof parsed === 'string' ? parsed : null;
  }

  executors(): string[] {
    return [...new Set([...this.inner.executors(), odmExecutorName])].sort();
  }

  // ---- NodeChooser ---------------------------------------------------------

  forFire(job: Job): string[] {
    if (job.executor === odmExecutorName) return [this.options.selfNode];
    return this.innerChooser?.forFire(job) ?? [this.options.selfNode];
  }

  forStart(job: Job, execution: Execution): string {
    if (job.executor === odmExecutorName) return this.options.selfNode;
    return this.innerChooser?.forStart(job, execution) ?? this.options.selfNode;
  }

  resume(execution: Execution): boolean {
    if (this.options.state.odm.waitOf(execution.id)) return true;
    const job = this.options.state.job(execution.jobName);
    // Fired but its task not posted yet when the last leader went: post it now.
    if (job?.executor === odmExecutorName) return true;
    return this.innerChooser?.resume(execution) ?? false;
  }

  /** This server stopped leading: every wait is given up (the next leader takes it over). */
  stopLeading(): void {
    this.epoch++;
    for (const a of [...this.abandoners]) a();
  }

  close(): void {
    this.stopLeading();
    this.unsubscribe();
  }

  // ---- running -------------------------------------------------------------

  private async run(req: RunRequest, output: OutputSink, signal: AbortSignal): Promise<RunOutcome> {
    const { state } = this.options;
    const epoch = this.epoch;
    const abandoned: RunOutcome = { success: false, exitCode: -1, error: 'this server stopped leading while the task waited; the next leader waits on', abandoned: true };
    let wait = state.odm.waitOf(req.executionId);
    if (wait && wait.callback === null) {
      // Taken over from another leader (or this one before a restart): it may
      // have died between committing the wait and posting the task. A service
      // that does not know the task gets it anew, under a new id and token.
      const known = await this.checkStatus(wait, signal);
      if (known.notFound === true) wait = undefined;
    }
    if (!wait) {
      const posted = await this.post(req, signal);
      if ('error' in posted) return failed(posted.error);
      wait = posted.wait;
    }
    if (this.epoch !== epoch) return abandoned;
    const ended = await this.waitFor(wait, signal);
    if (ended === 'abandoned' || this.epoch !== epoch) return abandoned;
    if (ended === 'stopped') return failed('stopped on request while the executor service ran the task');
    if (ended === 'timeout') {
      return failed(`${describe(wait)}: no callback for task ${wait.taskId} within the timeout (${Math.round((wait.deadlineMs - wait.postedAtMs) / 1000)}s)`);
    }
    const callback = ended.callback;
    if (!callback) return failed(`${describe(wait)}: the callback vanished`);
    const report = { taskId: wait.taskId, status: callback.status, results: callback.results, errors: callback.errors };
    let checked: string | null = null;
    if (wait.checkAfterCallback) {
      const status = await this.checkStatus(wait, signal);
      checked = status.error ?? null;
      if (status.status !== undefined) Object.assign(report, { checkedStatus: status.status });
      if (checked === null && callback.status === 'PROCESSED' && (status.status === 'FAILED' || status.status === 'ABORTED')) {
        checked = `${describe(wait)}: the callback said PROCESSED but the service's status for task ${wait.taskId} is ${status.status}`;
      }
    }
    output.write(Buffer.from(`${JSON.stringify(report)}\n`));
    if (checked !== null) return failed(checked);
    if (callback.status === 'PROCESSED') return { success: true, exitCode: 0, error: '' };
    return failed(`${describe(wait)}: task ${wait.taskId} FAILED${callback.errors !== null && callback.errors !== undefined ? `: ${JSON.stringify(callback.errors)}` : ''}`);
  }

  /** Commit the wait, then post the task. */
  private async post(req: RunRequest, signal: AbortSignal): Promise<{ wait: OdmWait } | { error: string }> {
    const { state, log, now, services } = this.options;
    const config = parseOdmJobConfig(req.config, {
      job_name: req.jobName, execution_id: req.executionId, scheduled_at: new Date(req.scheduledAtMs).toISOString(), attempt: req.attempt,
    });
    if (typeof config === 'string') return { error: config };
    let address = config.address;
    let checkAfterCallback = false;
    if (config.service !== '') {
      const service = Object.hasOwn(services, config.service) ? services[config.service] : undefined;
      const known = Object.keys(services);
      if (!service) return { error: `odm: executor service "${config.service}" is not configured in odm_executors (${known.length > 0 ? `known: ${known.join(', ')}` : 'none is'}): the task enters the FAILED state` };
      if (!service.active) return { error: `odm: executor service "${config.service}" is not active (odm_executors.${config.service}.active is false): the task enters the FAILED state` };
      address = service.address;
      checkAfterCallback = service.checkAfterCallback;
    }
    const taskId = randomUUID();
    const token = randomBytes(32).toString('base64url');
    const atMs = now();
    const res = await log.submit({
      type: CommandType.OdmTaskPosted, atMs, executionId: req.executionId, taskId, service: config.service, address,
      tokenHash: hashToken(token), checkAfterCallback, deadlineMs: atMs + config.timeoutMs,
    });
    if (!res.ok) return { error: `odm: ${res.error.message}` };
    const wait = state.odm.waitOf(req.executionId);
    if (!wait) return { error: 'odm: the execution finished before its task was posted' };
    const who = describe(wait);
    const callbackRef = `${this.options.callbackBase().replace(/\/+$/, '')}${callbackPath(taskId, token)}`;
    try {
      const answer = await request(`${address}/api/v1/up/executor/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ taskId, taskType: config.taskType, callbackRef, parameters: config.parameters }),
        signal,
        headersTimeout: this.options.requestTimeoutMs ?? 30_000,
        bodyTimeout: this.options.requestTimeoutMs ?? 30_000,
      });
      const body = (await answer.body.text()).slice(0, 4096);
      if (answer.statusCode < 200 || answer.statusCode > 299) return { error: `${who} refused task ${taskId}: ${answer.statusCode} ${body}: the task enters the FAILED state` };
    } catch (err) {
      if (signal.aborted) return { error: 'stopped on request before the executor service took the task' };
      return { error: `${who} is unreachable: ${errorText(err)}: the task enters the FAILED state` };
    }
    return { wait };
  }

  private waitFor(wait: OdmWait, signal: AbortSignal): Promise<OdmWait | 'timeout' | 'stopped' | 'abandoned'> {
    const { state, now } = this.options;
    return new Promise((resolve) => {
      let timer: LongTimeout | null = null;
      const done = (v: OdmWait | 'timeout' | 'stopped' | 'abandoned') => {
        timer?.clear();
        signal.removeEventListener('abort', onAbort);
        this.abandoners.delete(abandon);
        if (this.waiters.get(wait.executionId) === waiter) this.waiters.delete(wait.executionId);
        resolve(v);
      };
      const onAbort = () => done('stopped');
      const abandon = () => done('abandoned');
      const waiter: Waiter = {
        wake: () => {
          const now = state.odm.waitOf(wait.executionId);
          if (now?.callback) done(now);
        },
      };
      this.waiters.set(wait.executionId, waiter);
      this.abandoners.add(abandon);
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) return onAbort();
      const current = state.odm.waitOf(wait.executionId);
      if (current?.callback) return done(current);
      timer = setLongTimeout(() => done('timeout'), wait.deadlineMs - now());
    });
  }

  private async checkStatus(wait: OdmWait, signal: AbortSignal): Promise<{ status?: string; error?: string; notFound?: boolean }> {
    const who = describe(wait);
    try {
      const answer = await request(`${wait.address}/api/v1/up/executor/tasks/${encodeURIComponent(wait.taskId)}/status`, {
        method: 'GET', headers: { accept: 'application/json' }, signal,
        headersTimeout: this.options.requestTimeoutMs ?? 30_000, bodyTimeout: this.options.requestTimeoutMs ?? 30_000,
      });
      const text = (await answer.body.text()).slice(0, 4096);
      if (answer.statusCode === 404) return { notFound: true, error: `${who}: checking task ${wait.taskId} after its callback: the service does not know the task (404 ${text})` };
      if (answer.statusCode < 200 || answer.statusCode > 299) return { error: `${who}: checking task ${wait.taskId} after its callback: ${answer.statusCode} ${text}` };
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch {
        return { error: `${who}: checking task ${wait.taskId} after its callback: the answer is not JSON: ${text}` };
      }
      const status = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>)['status'] : undefined;
      if (typeof status !== 'string') return { error: `${who}: checking task ${wait.taskId} after its callback: the answer has no status: ${text}` };
      return { status };
    } catch (err) {
      return { error: `${who}: checking task ${wait.taskId} after its callback: unreachable: ${errorText(err)}` };
    }
  }
}

function failed(error: string): RunOutcome {
  return { success: false, exitCode: 1, error };
}

function describe(wait: Pick<OdmWait, 'service' | 'address'>): string {
  return wait.service !== '' ? `odm: executor service "${wait.service}" (${wait.address})` : `odm: executor service at ${wait.address}`;
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const code = (err as { code?: unknown }).code;
  return `${err.message}${typeof code === 'string' ? ` (${code})` : ''}${cause instanceof Error ? `: ${cause.message}` : ''}`;
}
