// Notification records: one delivery (a webhook POST or a mail) owed for one
// execution, kept in the replicated state so that a new leader delivers what
// the old one had not. The leader renders the payload and commits it (with
// the execution's result, or at its start); the leader's notifier delivers it
// and commits each attempt's outcome. Secrets (the mail password, webhook
// headers) are never in a record: the notifier adds them from its own
// configuration when it delivers.

/** When a delivery is owed: the execution started, or it finished (its last attempt). */
export type NotificationEvent = 'start' | 'finish';
export type NotificationChannel = 'webhook' | 'mail';
/**
 * Whose settings it follows: the server's Dkron settings (`webhook-endpoint`,
 * `pre-webhook-endpoint`, `mail-host` with the job's owner_email) or one of
 * the job's `notify` rules.
 */
export type NotificationSource = 'webhook' | 'pre-webhook' | 'mail' | 'rule';
export type NotificationState = 'pending' | 'delivered' | 'failed';

/** What the leader commits: a rendered delivery. */
export interface NotificationSpec {
  /** `<execution id>:<event>:<n>`, so committing it twice stores it once. */
  readonly id: string;
  readonly executionId: string;
  readonly jobName: string;
  readonly event: NotificationEvent;
  readonly channel: NotificationChannel;
  readonly source: NotificationSource;
  /** The rule's `on` for a rule's delivery ("" otherwise). */
  readonly on: string;
  /** The webhook's URL ("" for mail). */
  readonly url: string;
  /** The mail's recipients (none for a webhook). */
  readonly to: readonly string[];
  /** The mail's subject ("" for a webhook). */
  readonly subject: string;
  readonly body: string;
}

export interface Notification extends NotificationSpec {
  readonly createdAtMs: number;
  readonly state: NotificationState;
  readonly attempts: number;
  readonly lastError: string;
  /** When the next attempt is due (pending only). */
  readonly nextAttemptMs: number;
  /** When it was delivered or given up (null while pending). */
  readonly settledAtMs: number | null;
}

/** One delivery attempt's outcome, decided by the leader's notifier. */
export interface NotificationOutcome {
  readonly id: string;
  /** The attempt this reports (1, 2, ...): an outcome already applied, or out of turn, changes nothing. */
  readonly attempt: number;
  readonly delivered: boolean;
  readonly error: string;
  /** Not delivered: when to try again, or null to give up (the delivery becomes `failed`). */
  readonly nextAttemptMs: number | null;
}

/** The most bytes of a notification's last error kept. */
export const maxNotificationErrorChars = 2000;
