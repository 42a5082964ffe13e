// Which deliveries an execution's start or finish owes, rendered: the
// server's Dkron settings (pre-webhook at start; webhook and mail to the
// job's owner_email after the last attempt) and the job's own `notify`
// rules. The leader calls this and commits what it returns. Pure but for
// reading the state.

import type { ExecutionResult } from '../../state/commands.js';
import type { Execution } from '../../state/execution.js';
import type { Job, NotifyRule } from '../../state/job.js';
import type { NotificationEvent, NotificationSpec } from '../../state/notification.js';
import type { NotifySettings, ParsedTemplates } from './notify-settings.js';
import { parseTemplate, renderTemplate, type Template, type TemplateValues } from './template.js';

/** Characters of a rendered body kept (the rest is cut, and the cut says so). */
export const maxBodyChars = 64 * 1024;
/**
 * Characters of all the bodies one execution's start or finish owes: they
 * are committed with its result, whose log entry has a size limit (4 MiB,
 * of which the result itself may take 3).
 */
export const maxBodiesChars = 192 * 1024;

export interface PlannerState {
  job(name: string): Job | undefined;
  execution(id: string): Execution | undefined;
  executionsOf(name: string): readonly Execution[] | undefined;
}

export interface PlannerOptions {
  readonly settings: NotifySettings;
  readonly templates: ParsedTemplates;
  /** Dkron's ReportingNode: the server that sends. */
  readonly reportingNode: string;
  readonly state: PlannerState;
}

/** What a rule is matched against. */
export interface Happening {
  readonly event: NotificationEvent;
  readonly success: boolean;
  /** The job's last settled run failed (for `recovery`). */
  readonly previousFailed: boolean;
}

/** Whether a job's rule fires for what happened. */
export function ruleMatches(rule: Pick<NotifyRule, 'on'>, h: Happening): boolean {
  if (h.event === 'start') return rule.on === 'start';
  switch (rule.on) {
    case 'always': return true;
    case 'failure': return !h.success;
    case 'recovery': return h.success && h.previousFailed;
    case 'start': return false;
  }
}

/** Whether a result is an execution's last word: a success, a stop, or a failure with no retry left (as apply decides). */
export function isLastAttempt(job: Pick<Job, 'retries'>, execution: Pick<Execution, 'attempt'>, state: ExecutionResult['state']): boolean {
  return state === 'succeeded' || state === 'stopped' || execution.attempt >= job.retries + 1;
}

export class NotificationPlanner {
  constructor(private readonly options: PlannerOptions) {}

  /** Deliveries owed when `execution` starts. */
  forStart(execution: Execution): NotificationSpec[] {
    const job = this.options.state.job(execution.jobName);
    if (!job) return [];
    const h: Happening = { event: 'start', success: false, previousFailed: false };
    const values = this.values(job, execution, null, 'start');
    const out: Draft[] = [];
    const { preWebhook } = this.options.settings;
    if (preWebhook && this.options.templates.preWebhook) {
      out.push({ channel: 'webhook', source: 'pre-webhook', on: '', url: preWebhook.endpoint, to: [], subject: '', body: renderTemplate(this.options.templates.preWebhook, values) });
    }
    out.push(...this.ruleDrafts(job, h, values));
    return this.finish(execution, 'start', out);
  }

  /** Deliveries owed for a result; none unless it is the execution's last attempt. */
  forFinish(result: ExecutionResult): NotificationSpec[] {
    const { state, settings, templates } = this.options;
    const execution = state.execution(result.id);
    if (!execution || execution.state === 'succeeded' || execution.state === 'failed' || execution.state === 'stopped' || execution.state === 'lost') return [];
    const job = state.job(execution.jobName);
    if (!job || !isLastAttempt(job, execution, result.state)) return [];
    const success = result.state === 'succeeded';
    const h: Happening = { event: 'finish', success, previousFailed: job.status === 'failed' || job.status === 'partially_failed' };
    const values = this.values(job, execution, result, 'finish');
    const out: Draft[] = [];
    if (settings.webhook && templates.webhook) {
      out.push({ channel: 'webhook', source: 'webhook', on: '', url: settings.webhook.endpoint, to: [], subject: '', body: renderTemplate(templates.webhook, values) });
    }
    const owners = job.ownerEmail.split(',').map((a) => a.trim()).filter((a) => a !== '');
    if (settings.mail && owners.length > 0) {
      const body = templates.mail ? renderTemplate(templates.mail, values) : result.output;
      out.push({ channel: 'mail', source: 'mail', on: '', url: '', to: owners, subject: this.subject(job, 'finish', success), body });
    }
    out.push(...this.ruleDrafts(job, h, values));
    return this.finish(execution, 'finish', out);
  }

  private ruleDrafts(job: Job, h: Happening, values: TemplateValues): Draft[] {
    const out: Draft[] = [];
    for (const rule of job.notify ?? []) {
      if (!ruleMatches(rule, h)) continue;
      const template = rule.payload === '' ? null : safeParse(rule.payload);
      if (rule.webhook !== '') {
        const body = template === null ? defaultWebhookBody(values, rule) : typeof template === 'string' ? template : renderTemplate(template, values);
        out.push({ channel: 'webhook', source: 'rule', on: rule.on, url: rule.webhook, to: [], subject: '', body });
      }
      if (rule.email.length > 0) {
        const body = template === null ? values.Report : typeof template === 'string' ? template : renderTemplate(template, values);
        out.push({ channel: 'mail', source: 'rule', on: rule.on, url: '', to: rule.email, subject: this.subject(job, h.event, h.success), body });
      }
    }
    return out;
  }

  private finish(execution: Execution, event: NotificationEvent, drafts: readonly Draft[]): NotificationSpec[] {
    const limit = Math.min(maxBodyChars, Math.floor(maxBodiesChars / Math.max(1, drafts.length)));
    return drafts.map((d, i) => ({
      id: `${execution.id}:${event}:${i}`,
      executionId: execution.id,
      jobName: execution.jobName,
      event,
      ...d,
      body: cut(d.body, limit),
    }));
  }

  /** Dkron's subject: `<prefix> Success|Failed <job> execution report`. */
  private subject(job: Job, event: NotificationEvent, success: boolean): string {
    const prefix = this.options.settings.mail?.subjectPrefix ?? '';
    const sep = prefix === '' || /\s$/.test(prefix) ? '' : ' ';
    return event === 'start' ? `${prefix}${sep}Started ${job.name} execution` : `${prefix}${sep}${success ? 'Success' : 'Failed'} ${job.name} execution report`;
  }

  private values(job: Job, e: Execution, result: ExecutionResult | null, event: NotificationEvent): TemplateValues {
    const startedAt = iso(e.startedAtMs);
    const finishedAt = result ? iso(result.finishedAtMs) : '';
    const success = result?.state === 'succeeded';
    const output = result?.output ?? '';
    const group = (this.options.state.executionsOf(job.name) ?? []).filter((x) => x.group === e.group && x.id !== e.id && x.finishedAtMs !== null);
    const groupLines = [
      ...group.map((x) => `\t[Node]: ${x.nodeName} [Start]: ${iso(x.startedAtMs)} [End]: ${iso(x.finishedAtMs)} [Success]: ${String(x.state === 'succeeded')}\n`),
      ...(result ? [`\t[Node]: ${e.nodeName} [Start]: ${startedAt} [End]: ${finishedAt} [Success]: ${String(success)}\n`] : []),
    ].join('');
    const report =
      `Executed: ${job.name}\nReporting node: ${this.options.reportingNode}\nStart time: ${startedAt}\nEnd time: ${finishedAt}\n` +
      `Success: ${String(success)}\nNode: ${e.nodeName}\nOutput: ${output}\nExecution group: ${e.group}\n${groupLines}`;
    return {
      Report: report,
      JobName: job.name,
      ReportingNode: this.options.reportingNode,
      StartTime: startedAt,
      FinishedAt: finishedAt,
      Success: String(success),
      NodeName: e.nodeName,
      Output: output,
      ExecutionID: e.id,
      State: result?.state ?? 'running',
      ExitCode: result?.exitCode === null || result === null ? '' : String(result.exitCode),
      Error: result?.error ?? '',
      Attempt: String(e.attempt),
      Event: event,
    };
  }
}

type Draft = Omit<NotificationSpec, 'id' | 'executionId' | 'jobName' | 'event'>;

/** A template, or (stored before it was checked) Dkron's "Failed to parse template" body. */
function safeParse(source: string): Template | string {
  try {
    return parseTemplate(source);
  } catch (err) {
    return `Failed to parse template: ${(err as Error).message}`;
  }
}

/** A rule's webhook body when it gives no payload: the facts as JSON. */
function defaultWebhookBody(v: TemplateValues, rule: NotifyRule): string {
  return JSON.stringify({
    job_name: v.JobName, execution_id: v.ExecutionID, event: v.Event, on: rule.on, state: v.State, success: v.Success === 'true',
    node_name: v.NodeName, reporting_node: v.ReportingNode, started_at: v.StartTime, finished_at: v.FinishedAt === '' ? null : v.FinishedAt,
    exit_code: v.ExitCode === '' ? null : Number(v.ExitCode), error: v.Error, attempt: Number(v.Attempt), output: v.Output,
  });
}

function cut(body: string, limit: number): string {
  if (body.length <= limit) return body;
  const note = `\n[cut: ${body.length - limit} more characters]`;
  return body.slice(0, Math.max(0, limit - note.length)) + note;
}

function iso(ms: number | null): string {
  return ms === null || !Number.isFinite(ms) ? '' : new Date(ms).toISOString();
}
