// Delivering one notification: a webhook POST (undici) or a mail (nodemailer
// over SMTP). Each attempt has a time limit; a failure is an Error whose
// message never holds a secret of the settings (the mail password, header
// values): they are replaced before it leaves this module.

import { createTransport, type Transporter } from 'nodemailer';
import { request } from 'undici';
import type { Notification } from '../../state/notification.js';
import type { MailSettings, NotifySettings, WebhookSettings } from './notify-settings.js';

export interface Deliverer {
  /** Resolves once delivered; rejects with the reason it was not. */
  deliver(n: Notification): Promise<void>;
  close(): void;
}

export class NetworkDeliverer implements Deliverer {
  private mailer: Transporter | null = null;
  private readonly secrets: string[];

  constructor(private readonly settings: NotifySettings) {
    this.secrets = secretsOf(settings);
  }

  async deliver(n: Notification): Promise<void> {
    try {
      if (n.channel === 'webhook') await this.post(n);
      else await this.mail(n);
    } catch (err) {
      throw new Error(this.hide(err instanceof Error ? err.message : String(err)));
    }
  }

  close(): void {
    this.mailer?.close();
    this.mailer = null;
  }

  private async post(n: Notification): Promise<void> {
    const hook: WebhookSettings | null = n.source === 'webhook' ? this.settings.webhook : n.source === 'pre-webhook' ? this.settings.preWebhook : null;
    const headers: Record<string, string> = { 'content-type': looksLikeJson(n.body) ? 'application/json' : 'text/plain; charset=utf-8', 'user-agent': 'clocktower-notifier' };
    for (const [name, value] of hook?.headers ?? []) headers[name.toLowerCase()] = value;
    const res = await request(n.url, {
      method: 'POST', headers, body: n.body,
      headersTimeout: this.settings.timeoutMs, bodyTimeout: this.settings.timeoutMs,
      signal: AbortSignal.timeout(this.settings.timeoutMs),
    });
    const text = await res.body.text().catch(() => '');
    if (res.statusCode < 200 || res.statusCode > 299) {
      throw new Error(`the webhook answered HTTP ${res.statusCode}${text === '' ? '' : `: ${text.slice(0, 200)}`}`);
    }
  }

  private async mail(n: Notification): Promise<void> {
    const mail = this.settings.mail;
    if (!mail) throw new Error('this server has no mail settings (--mail-host, --mail-port): the mail cannot be sent');
    const mailer = (this.mailer ??= transport(mail, this.settings.timeoutMs));
    await mailer.sendMail({ from: mail.from === '' ? `clocktower@${mail.host}` : mail.from, to: [...n.to], subject: n.subject, text: n.body });
  }

  private hide(message: string): string {
    let out = message;
    for (const s of this.secrets) out = out.split(s).join('[redacted]');
    return out;
  }
}

function transport(mail: MailSettings, timeoutMs: number): Transporter {
  return createTransport({
    host: mail.host,
    port: mail.port,
    secure: mail.port === 465,
    ...(mail.username !== '' ? { auth: { user: mail.username, pass: mail.password } } : {}),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
}

/** The values a log line or an API answer must never show. */
export function secretsOf(settings: NotifySettings): string[] {
  const out: string[] = [];
  if (settings.mail && settings.mail.password.length >= 3) out.push(settings.mail.password);
  for (const hook of [settings.webhook, settings.preWebhook]) {
    for (const [, value] of hook?.headers ?? []) if (value.length >= 3) out.push(value);
  }
  return out;
}

function looksLikeJson(body: string): boolean {
  const t = body.trim();
  if (!(t.startsWith('{') || t.startsWith('['))) return false;
  try {
    JSON.parse(t);
    return true;
  } catch {
    return false;
  }
}

/** A URL for display: no user info, no query (either may hold a token); the path stays. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(not a URL)';
  }
}
