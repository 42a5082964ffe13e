// Which values are secrets, and how to hide them: the one rule for job
// configs (executor_config) and for the operator log (server/observe/logger).
// Which executor_config values are secrets, and the config with them hidden.
// A key is secret when its name says so: password, passwd, token, secret,
// credentials, a `_key`/`Key` suffix (api_key, accessKey, private_key), and
// the SASL and basic-auth fields of the bundled executors (kafka's
// saslPassword, nats' password and token). Inside values that are not
// secret as a whole, the secret part is hidden: the password of a URL
// (nats://user:pass@host, amqp://user:pass@host), the values of `env`
// pairs whose names look secret (DB_PASSWORD=...), and the http executor's
// Authorization / Proxy-Authorization / X-Api-Key / Cookie headers.
// An executor may also declare keys secret (a plugin through the plugin
// SDK): those are hidden as the secret-named ones are. While its
// declaration is not known (null: a plugin program that has not started and
// answered yet), every value is hidden.

export const redacted = '<redacted>';

const secretName = /pass(word|wd)?$|passphrase|token|secret|credential|(^|_|-)key$|^auth(orization)?$/i;
/** camelCase: accessKey, apiKey (not monkey). */
const camelKey = /[a-z0-9]Key$/;

export function isSecretKey(key: string): boolean {
  // kafka's `key` is the message key, not a secret.
  if (key === 'key') return false;
  return secretName.test(key) || camelKey.test(key);
}

const secretHeader = /^\s*(authorization|proxy-authorization|x-api-key|api-key|cookie|x-auth-token)\s*:/i;

/** `value` with the password of every `scheme://user:password@host` in it replaced by `marker`. */
export function hideUrlPasswords(value: string, marker = redacted): string {
  // One or more (nats takes a comma-separated list); a quote ends a URL inside a JSON line.
  if (!value.includes('://')) return value;
  return value.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s,"]*):([^@/\s,"]+)@/gi, (_m, user: string) => `${user}:${marker}@`);
}

function hideEnv(value: string): string {
  return value.split(',').map((pair) => {
    const eq = pair.indexOf('=');
    return eq > 0 && isSecretKey(pair.slice(0, eq).trim()) ? `${pair.slice(0, eq)}=${redacted}` : pair;
  }).join(',');
}

function hideHeaders(value: string): string {
  let list: unknown;
  try {
    list = JSON.parse(value);
  } catch {
    return secretHeader.test(value) ? redacted : value;
  }
  if (!Array.isArray(list)) return value;
  return JSON.stringify(list.map((h: unknown) => (typeof h === 'string' && secretHeader.test(h) ? `${h.slice(0, h.indexOf(':'))}: ${redacted}` : h)));
}

/** The keys an executor declares secret; null: its declaration is not known (yet), so every value is taken as secret. */
export type DeclaredSecretKeys = readonly string[] | null;

/** `config` with every secret value replaced by `<redacted>`; the same object when there is none. */
export function redactConfig(config: Readonly<Record<string, string>>, declared: DeclaredSecretKeys = []): Readonly<Record<string, string>> {
  let out: Record<string, string> | null = null;
  for (const [k, v] of Object.entries(config)) {
    let shown: string;
    if (v === '') shown = v;
    else if (declared === null || isSecretKey(k) || declared.includes(k)) shown = redacted;
    else if (k === 'env') shown = hideEnv(v);
    else if (k === 'headers') shown = hideHeaders(v);
    else shown = hideUrlPasswords(v);
    if (shown !== v) (out ??= { ...config })[k] = shown;
  }
  return out ?? config;
}

/** Whether `config` holds anything redactConfig would hide. */
export function hasSecrets(config: Readonly<Record<string, string>>, declared: DeclaredSecretKeys = []): boolean {
  return redactConfig(config, declared) !== config;
}

/**
 * A job saved back as it was read, redacted: every value that is exactly
 * what redactConfig showed of the stored one keeps the stored value, so a
 * read-modify-write by someone who cannot see the secrets does not erase them.
 */
export function restoreRedacted(config: Readonly<Record<string, string>>, stored: Readonly<Record<string, string>> | undefined, declared: DeclaredSecretKeys = []): Readonly<Record<string, string>> {
  if (!stored) return config;
  const shown = redactConfig(stored, declared);
  if (shown === stored) return config;
  let out: Record<string, string> | null = null;
  for (const [k, v] of Object.entries(config)) {
    const was = stored[k];
    if (was !== undefined && v !== was && v === shown[k]) (out ??= { ...config })[k] = was;
  }
  return out ?? config;
}
