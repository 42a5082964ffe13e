// The leader's notifier: delivers the pending notification records of the
// replicated state and commits each attempt's outcome (delivered; failed
// with the next attempt's time after a backoff; or given up as failed after
// the last attempt). It never holds up an execution: records are committed
// with (or after) the execution's own commands and delivered here, apart.
//
// A new leader delivers whatever is pending, from its due time. An attempt
// that was under way when the old leader stopped is made again (delivery is
// at least once; a receiver that must not see one twice can key on the
// payload's execution id).

import { CommandType, type ExecutionResult } from '../../state/commands.js';
import type { CommandLog } from '../../state/command-log.js';
import type { Execution } from '../../state/execution.js';
import type { Notification, NotificationOutcome, NotificationSpec } from '../../state/notification.js';
import type { StateMachine } from '../../state/state-machine.js';
import { DueTimer, TimerHeap, type Timers } from '../timer-heap.js';
import type { Deliverer } from './delivery.js';
import { displayUrl } from './delivery.js';
import { deliveryBackoffMs, type NotifySettings, type ParsedTemplates } from './notify-settings.js';
import { NotificationPlanner } from './planner.js';

/** What the notifier counts (server/observe/metrics.ts fulfils it). */
export interface NotifyMetrics {
  /** A delivery settled: delivered, or failed after its last attempt. */
  notificationSettled(channel: string, outcome: 'delivered' | 'failed'): void;
  /** One attempt failed (it may be tried again). */
  notificationAttemptFailed(channel: string): void;
}

export type NotifyLog = (level: 'info' | 'warn' | 'error', line: string, fields: Record<string, unknown>) => void;

export interface NotifierOptions {
  readonly state: StateMachine;
  readonly log: CommandLog;
  readonly now: () => number;
  readonly settings: NotifySettings;
  readonly templates: ParsedTemplates;
  readonly nodeName: string;
  readonly deliverer: Deliverer;
  readonly metrics?: NotifyMetrics | undefined;
  readonly logLine?: NotifyLog | undefined;
  readonly timers?: Timers | undefined;
}

/** Attempts made at once, at most. */
const maxInFlight = 16;

export class Notifier {
  readonly planner: NotificationPlanner;
  private readonly heap = new TimerHeap();
  private readonly timer: DueTimer;
  private readonly inFlight = new Set<string>();
  private unsubscribe: (() => void) | null = null;
  private leading = false;
  /** Outcomes waiting to be committed: while one command is in flight, the ones that come meanwhile go together in the next. */
  private outcomes: NotificationOutcome[] = [];
  private flushing = false;

  constructor(private readonly options: NotifierOptions) {
    this.planner = new NotificationPlanner({ settings: options.settings, templates: options.templates, reportingNode: options.nodeName, state: options.state });
    this.timer = new DueTimer(this.heap, options.now, (due) => this.attemptAll(due.map((d) => d.key)), options.timers);
  }

  /** Whether any delivery could be owed (settings or a job's rules): without, nothing is planned. */
  private get anySettings(): boolean {
    const s = this.options.settings;
    return s.webhook !== null || s.preWebhook !== null || s.mail !== null;
  }

  /** Deliveries a result owes, to commit with it (ExecutionRunner's hook). Never throws. */
  forResult(result: ExecutionResult): readonly NotificationSpec[] {
    try {
      const e = this.options.state.execution(result.id);
      const job = e ? this.options.state.job(e.jobName) : undefined;
      if (!this.anySettings && !(job?.notify?.length)) return [];
      return this.planner.forFinish(result);
    } catch (err) {
      this.line('error', `notify: cannot plan the notifications of execution ${result.id}: ${String(err)}`, { event: 'notification_plan_failed', execution_id: result.id });
      return [];
    }
  }

  /** Executions that started: commit what their start owes. Never throws, never waits for the commit. */
  started(executions: readonly Execution[]): void {
    const specs: NotificationSpec[] = [];
    for (const e of executions) {
      if (e.state !== 'running') continue;
      const job = this.options.state.job(e.jobName);
      if (this.options.settings.preWebhook === null && !(job?.notify?.some((r) => r.on === 'start'))) continue;
      // Planned once: a new leader that reattaches does not plan a start a previous one committed.
      if (this.options.state.notificationsOf(e.id).some((n) => n.event === 'start')) continue;
      try {
        specs.push(...this.planner.forStart(e));
      } catch (err) {
        this.line('error', `notify: cannot plan the start notifications of execution ${e.id}: ${String(err)}`, { event: 'notification_plan_failed', execution_id: e.id });
      }
    }
    // Many starts at once (a busy second) go in several commands, each well within a log entry.
    for (const chunk of chunks(specs, maxCommandChars)) {
      this.options.log.submit({ type: CommandType.AddNotifications, atMs: this.options.now(), notifications: chunk }).catch((err: unknown) => {
        // Not committed (no longer leader): the next leader plans the starts of what still runs.
        this.line('warn', `notify: start notifications not recorded: ${err instanceof Error ? err.message : String(err)}`, { event: 'notification_plan_failed' });
      });
    }
  }

  startLeading(): void {
    if (this.leading) return;
    this.leading = true;
    this.unsubscribe = this.options.state.subscribe((ev) => {
      if (ev.kind === 'notification' && ev.notification.state === 'pending') this.schedule(ev.notification);
    });
    for (const n of this.options.state.pendingNotifications()) this.schedule(n);
    // Starts the previous leader ran but may not have recorded notifications for.
    this.started(this.options.state.activeExecutions());
  }

  stopLeading(): void {
    this.leading = false;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.timer.stop();
    this.heap.clear();
  }

  close(): void {
    this.stopLeading();
    this.options.deliverer.close();
  }

  private schedule(n: Notification): void {
    if (!this.leading) return;
    this.heap.set(n.id, n.nextAttemptMs);
    this.timer.arm();
  }

  private attemptAll(ids: readonly string[]): void {
    for (const id of ids) {
      if (this.inFlight.size >= maxInFlight) {
        // Busy: try again shortly (the heap holds the rest).
        this.heap.set(id, this.options.now() + 50);
        continue;
      }
      void this.attempt(id);
    }
    this.timer.arm();
  }

  private async attempt(id: string): Promise<void> {
    const n = this.options.state.notification(id);
    if (!this.leading || !n || n.state !== 'pending') return;
    if (this.inFlight.has(id)) {
      // Its previous attempt's outcome is still being committed: look again shortly.
      this.retryLater([id], 50);
      return;
    }
    this.inFlight.add(id);
    const attempt = n.attempts + 1;
    let error = '';
    try {
      await this.options.deliverer.deliver(n);
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    const delivered = error === '';
    const { settings, now, metrics } = this.options;
    const giveUp = !delivered && attempt >= settings.attempts;
    const nextAttemptMs = delivered || giveUp ? null : now() + deliveryBackoffMs(settings, attempt);
    const fields = { event: 'notification', execution_id: n.executionId, job: n.jobName, channel: n.channel, target: target(n), attempt };
    if (delivered) {
      metrics?.notificationSettled(n.channel, 'delivered');
      this.line('info', `notify: ${n.channel} for execution ${n.executionId} of ${n.jobName} delivered to ${target(n)}`, { ...fields, state: 'delivered' });
    } else {
      metrics?.notificationAttemptFailed(n.channel);
      if (giveUp) metrics?.notificationSettled(n.channel, 'failed');
      this.line(giveUp ? 'error' : 'warn',
        `notify: ${n.channel} for execution ${n.executionId} of ${n.jobName} to ${target(n)} failed (attempt ${attempt} of ${settings.attempts}): ${error}` +
        (giveUp ? '; given up' : `; trying again in ${Math.round(((nextAttemptMs ?? 0) - now()) / 100) / 10} s`),
        { ...fields, state: giveUp ? 'failed' : 'pending', error });
    }
    this.outcomes.push({ id, attempt, delivered, error, nextAttemptMs });
    void this.flush();
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.outcomes.length > 0) {
        const outcomes = this.outcomes.splice(0, 500);
        try {
          await this.options.log.submit({ type: CommandType.NotificationOutcomes, atMs: this.options.now(), outcomes });
        } catch (err) {
          // Not committed: the next leader (or this one, leading again) attempts them again.
          this.line('warn', `notify: the outcomes of ${outcomes.length} deliveries were not recorded: ${err instanceof Error ? err.message : String(err)}`, { event: 'notification_outcome_lost' });
          for (const o of outcomes) this.inFlight.delete(o.id);
          this.retryLater(outcomes.map((o) => o.id), 1000);
          continue;
        }
        for (const o of outcomes) this.inFlight.delete(o.id);
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Attempt these again after `ms` (if still leading). */
  private retryLater(ids: readonly string[], ms: number): void {
    if (!this.leading) return;
    for (const id of ids) this.heap.set(id, this.options.now() + ms);
    this.timer.arm();
  }

  private line(level: 'info' | 'warn' | 'error', text: string, fields: Record<string, unknown>): void {
    this.options.logLine?.(level, text, fields);
  }
}

/** Characters of bodies per AddNotifications command, about. */
const maxCommandChars = 512 * 1024;

function* chunks(specs: readonly NotificationSpec[], maxChars: number): Generator<NotificationSpec[]> {
  let chunk: NotificationSpec[] = [];
  let chars = 0;
  for (const spec of specs) {
    const size = spec.body.length + spec.url.length + spec.subject.length + 200;
    if (chunk.length > 0 && chars + size > maxChars) {
      yield chunk;
      chunk = [];
      chars = 0;
    }
    chunk.push(spec);
    chars += size;
  }
  if (chunk.length > 0) yield chunk;
}

/** A delivery's target as the API and the log show it: recipients, or the URL without user info or query (the server's own endpoints: the host only). */
export function target(n: Pick<Notification, 'channel' | 'source' | 'url' | 'to'>): string {
  if (n.channel === 'mail') return n.to.join(', ');
  if (n.source === 'rule') return displayUrl(n.url);
  try {
    const u = new URL(n.url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return '(not a URL)';
  }
}
