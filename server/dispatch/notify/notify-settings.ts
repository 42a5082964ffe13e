// The server's notification settings: Dkron's global mail and webhook
// options (`mail-host`, `webhook-endpoint`, ...) and how deliveries are
// retried. Parsed from flags and config files in bin/; checked here (pure).

import { webhookProblem } from '../../state/validate-job.js';
import { parseTemplate, type Template } from './template.js';

export interface WebhookSettings {
  readonly endpoint: string;
  readonly payload: string;
  /** Name and value pairs, sent as they are (secrets: never logged or shown). */
  readonly headers: readonly (readonly [string, string])[];
}

export interface MailSettings {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly from: string;
  /** The body template; "" for the execution's output (Dkron's default). */
  readonly payload: string;
  readonly subjectPrefix: string;
}

export interface NotifySettings {
  /** After each finished execution (its last attempt); null: none. */
  readonly webhook: WebhookSettings | null;
  /** When each execution starts; null: none. */
  readonly preWebhook: WebhookSettings | null;
  /** SMTP for the job's owner_email and the rules' addresses; null: no mail. */
  readonly mail: MailSettings | null;
  /** Attempts per delivery before it is given up as failed. */
  readonly attempts: number;
  /** The wait after the first failed attempt; it doubles after each further one (at most 5 minutes). */
  readonly backoffMs: number;
  /** How long one attempt may take. */
  readonly timeoutMs: number;
}

export const defaultNotifySettings: NotifySettings = { webhook: null, preWebhook: null, mail: null, attempts: 5, backoffMs: 1000, timeoutMs: 10_000 };

export const maxBackoffMs = 300_000;

/** Headers that belong to the HTTP connection, not to a request (the client refuses them). */
const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect', 'content-length', 'te', 'trailer', 'proxy-connection']);

/** The wait before attempt `failed + 1`, after `failed` failed attempts. */
export function deliveryBackoffMs(settings: Pick<NotifySettings, 'backoffMs'>, failed: number): number {
  return Math.min(settings.backoffMs * 2 ** Math.max(0, failed - 1), maxBackoffMs);
}

/** The settings' templates, parsed once. */
export interface ParsedTemplates {
  readonly webhook: Template | null;
  readonly preWebhook: Template | null;
  readonly mail: Template | null;
}

/**
 * The first problem with the settings as `{ key, message }` (key: the
 * Dkron option at fault), or the parsed templates.
 */
export function checkNotifySettings(s: NotifySettings): { key: string; message: string } | ParsedTemplates {
  const hooks = [['webhook', s.webhook], ['pre-webhook', s.preWebhook]] as const;
  const parsed: { webhook: Template | null; preWebhook: Template | null; mail: Template | null } = { webhook: null, preWebhook: null, mail: null };
  for (const [name, hook] of hooks) {
    if (!hook) continue;
    const bad = webhookProblem(hook.endpoint);
    if (bad !== null) return { key: `${name}-endpoint`, message: bad };
    if (hook.payload === '') return { key: `${name}-payload`, message: `--${name}-endpoint needs --${name}-payload, the body to send (as in Dkron)` };
    try {
      const t = parseTemplate(hook.payload);
      if (name === 'webhook') parsed.webhook = t;
      else parsed.preWebhook = t;
    } catch (err) {
      return { key: `${name}-payload`, message: (err as Error).message };
    }
    for (const [header] of hook.headers) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(header)) return { key: `${name}-headers`, message: `${JSON.stringify(header)} is not a header name (give Name:Value)` };
      if (hopByHop.has(header.toLowerCase())) return { key: `${name}-headers`, message: `the ${header} header is the connection's own and cannot be set` };
    }
  }
  if (s.mail) {
    if (s.mail.host === '') return { key: 'mail-host', message: 'mail needs --mail-host' };
    if (!Number.isInteger(s.mail.port) || s.mail.port < 1 || s.mail.port > 65535) return { key: 'mail-port', message: `must be a port from 1 to 65535, not ${s.mail.port}` };
    if ((s.mail.username === '') !== (s.mail.password === '')) return { key: s.mail.username === '' ? 'mail-username' : 'mail-password', message: 'give both --mail-username and --mail-password, or neither' };
    if (s.mail.payload !== '') {
      try {
        parsed.mail = parseTemplate(s.mail.payload);
      } catch (err) {
        return { key: 'mail-payload', message: (err as Error).message };
      }
    }
  }
  if (!Number.isInteger(s.attempts) || s.attempts < 1 || s.attempts > 100) return { key: 'notify-attempts', message: `must be a whole number from 1 to 100, not ${s.attempts}` };
  return parsed;
}
