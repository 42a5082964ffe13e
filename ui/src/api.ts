// The REST API over fetch. With an API token set on the server, a 401 asks
// for the token once (kept in sessionStorage for this browser session) and
// retries.

import { h } from './dom.js';

export interface Answer<T> {
  readonly status: number;
  readonly body: T;
  readonly total: number | null;
}

/** An error answer: the server's stable code, its message and the field it names. */
export class ApiFailure extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly field: string | null) {
    super(message);
  }
}

const tokenKey = 'clocktower-token';

export function token(): string | null {
  return sessionStorage.getItem(tokenKey);
}

export function authHeaders(): Record<string, string> {
  const t = token();
  return t ? { authorization: `Bearer ${t}` } : {};
}

let asking: Promise<void> | null = null;

/** Show the sign-in prompt; resolves when a token was entered. */
function askToken(message: string): Promise<void> {
  asking ??= new Promise<void>((resolve) => {
    const input = h('input', { type: 'password', id: 'token-input', autocomplete: 'current-password', required: true });
    const dialog = h('dialog', { 'aria-labelledby': 'token-title' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'token-title' }, 'Sign in'),
        h('p', { class: 'muted' }, message),
        h('label', { for: 'token-input' }, 'API token '), input, ' ',
        h('button', { class: 'primary', type: 'submit' }, 'Sign in')));
    dialog.addEventListener('close', () => {
      if (input.value !== '') sessionStorage.setItem(tokenKey, input.value);
      dialog.remove();
      asking = null;
      resolve();
    });
    dialog.addEventListener('cancel', (ev) => ev.preventDefault());
    document.body.append(dialog);
    dialog.showModal();
  });
  return asking;
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<Answer<T>> {
  for (;;) {
    const init: RequestInit = { method, headers: { ...authHeaders(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) } };
    if (body !== undefined) init.body = JSON.stringify(body);
    const res = await fetch(path, init);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    if (res.status === 401) {
      if (token()) sessionStorage.removeItem(tokenKey);
      await askToken(token() === null ? 'This server needs an API token.' : 'The API token was refused: enter it again.');
      continue;
    }
    if (res.status >= 400) {
      const err = (parsed as { error?: { code?: string; message?: string; field?: string } } | null)?.error;
      throw new ApiFailure(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? (typeof parsed === 'string' ? parsed : res.statusText), err?.field ?? null);
    }
    const total = res.headers.get('x-total-count');
    return { status: res.status, body: parsed as T, total: total === null ? null : Number(total) };
  }
}

export function jobPath(name: string): string {
  return `/v1/jobs/${encodeURIComponent(name)}`;
}

export interface Job {
  name: string;
  displayname: string;
  schedule: string;
  timezone: string;
  executor: string;
  executor_config: Record<string, string>;
  disabled: boolean;
  status: string;
  last_success: string | null;
  last_error: string | null;
  next: string | null;
  success_count: number;
  error_count: number;
  [key: string]: unknown;
}

export interface Execution {
  id: string;
  job_name: string;
  attempt: number;
  trigger: string;
  scheduled_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  state: string;
  node_name: string;
  exit_code: number | null;
  error: string;
  output?: string;
  output_truncated?: boolean;
}
