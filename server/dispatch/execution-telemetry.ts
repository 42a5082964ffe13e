// Counts and logs executions from the commands this server applies. Every
// server applies every command, so counting there alone would count each
// execution once per server (and again when a restarted server replays its
// log). An entry is counted only by the server that led the Raft term the
// entry belongs to (the driver says so: `own`): that is the server that
// proposed it, and each entry has exactly one such server, also when it was
// committed after a failover. A result applied twice (an agent re-reporting
// after a leader change) changes nothing in the state, so it is seen once.

import { CommandType, type Command } from '../state/commands.js';
import type { Execution } from '../state/execution.js';
import type { ApplyResult, StateMachine } from '../state/state-machine.js';

/** What the dispatcher's counters need from a metrics registry. */
export interface DispatchMetrics {
  executionFinished(e: { job: string; executor: string; state: string; exitCode: number | null; seconds: number }): void;
  fired(trigger: string, count: number): void;
  skipped(reason: string, count: number): void;
  fireLateness(seconds: number): void;
}

export interface EventLog {
  info(msg: string, fields: Readonly<Record<string, unknown>>): void;
}

export interface TelemetryOptions {
  readonly state: StateMachine;
  readonly now: () => number;
  readonly metrics?: DispatchMetrics | undefined;
  readonly log?: EventLog | undefined;
}

export class ExecutionTelemetry {
  private own = false;

  constructor(private readonly options: TelemetryOptions) {
    options.state.subscribe((ev) => {
      if (this.own && ev.kind === 'execution') this.onExecution(ev.execution);
    });
  }

  /** Apply one command through `apply`; `own`: this server led the term of the entry. */
  apply(own: boolean, command: Command, apply: () => ApplyResult): ApplyResult {
    this.own = own;
    let result: ApplyResult;
    try {
      result = apply();
    } finally {
      this.own = false;
    }
    if (own && result.ok) this.count(command, result);
    return result;
  }

  private count(command: Command, result: ApplyResult & { ok: true }): void {
    const { metrics } = this.options;
    if (!metrics) return;
    if (command.type === CommandType.RecordFires || command.type === CommandType.FinishExecutions || command.type === CommandType.AdvanceRun) {
      const groups = new Map<string, string>();
      for (const e of result.executions) if (e.attempt === 1) groups.set(e.group, e.trigger);
      const byTrigger = new Map<string, number>();
      for (const t of groups.values()) byTrigger.set(t, (byTrigger.get(t) ?? 0) + 1);
      for (const [t, n] of byTrigger) metrics.fired(t, n);
    }
    const byReason = new Map<string, number>();
    for (const s of result.skips) byReason.set(s.reason, (byReason.get(s.reason) ?? 0) + s.count);
    for (const [r, n] of byReason) metrics.skipped(r, n);
  }

  private onExecution(e: Execution): void {
    const { metrics, log, now, state } = this.options;
    if (e.state === 'pending') return;
    if (e.state === 'running') {
      if (e.trigger === 'schedule') metrics?.fireLateness(Math.max(0, now() - e.scheduledAtMs) / 1000);
      log?.info('execution started', { event: 'execution_started', job: e.jobName, execution: e.id, node: e.nodeName, attempt: e.attempt, trigger: e.trigger });
      return;
    }
    const durationMs = e.finishedAtMs !== null && e.startedAtMs !== null ? Math.max(0, e.finishedAtMs - e.startedAtMs) : 0;
    const executor = state.job(e.jobName)?.executor ?? '';
    metrics?.executionFinished({ job: e.jobName, executor, state: e.state, exitCode: e.exitCode, seconds: durationMs / 1000 });
    log?.info('execution finished', {
      event: 'execution_finished', job: e.jobName, execution: e.id, node: e.nodeName, state: e.state, duration_ms: durationMs,
      exit_code: e.exitCode, attempt: e.attempt, ...(e.error !== '' ? { error: e.error.slice(0, 500) } : {}),
      ...(e.errorCode !== undefined ? { error_code: e.errorCode } : {}),
    });
  }
}
