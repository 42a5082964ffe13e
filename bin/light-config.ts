// Configuration of a light-mode server: defaults, then a JSON config file
// (--config), then environment variables (CLOCKTOWER_<FLAG>), then flags.
// Validated once; unknown keys are rejected.

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { parseGoBool } from '../common/go-bool.js';
import { logFormats, logLevels, type LogFormat, type LogLevel } from '../server/observe/logger.js';
import type { TlsFiles } from '../common/tls.js';
import { hostPolicy } from '../server/api/request-guard.js';
import { readTokenFile } from './token-file.js';
import { parseGoDurationMs } from '../common/go-duration.js';
import { checkNotifySettings, defaultNotifySettings, type NotifySettings, type ParsedTemplates, type WebhookSettings } from '../server/dispatch/notify/notify-settings.js';
import { parseOdmServices, type OdmServices } from '../server/dispatch/odm/odm-config.js';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

export interface LightConfig {
  readonly dataDir: string;
  readonly httpAddr: string;
  readonly nodeName: string;
  readonly apiToken: string | undefined;
  /** Bytes of output kept per execution (the tail). */
  readonly outputLimit: number;
  /** Executions kept per job. */
  readonly historyLimit: number;
  readonly maxBodyBytes: number;
  /** Log entries between snapshots. */
  readonly snapshotEvery: number;
  /** Where plugin programs are looked for, in order (the first holding a name wins). */
  readonly pluginDirs: readonly string[];
  /** The operator log: the least severe level written, and JSON lines or text. */
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly version: string;
  /** Mutual TLS on every port this node serves and dials (--tls-ca, --tls-cert, --tls-key); null: plaintext. */
  readonly tls: TlsFiles | null;
  /** Addresses served or dialled in plaintext beyond loopback (allowed by --insecure; each start logs a warning). */
  readonly insecureAddresses: readonly string[];
  /** Host names the API answers to besides its own (--api-allowed-hosts): names, `*.domain`, or `*`. */
  readonly apiAllowedHosts: readonly string[];
  /** Dkron's mail and webhook settings, and how deliveries are retried. */
  readonly notify: NotifySettings;
  readonly notifyTemplates: ParsedTemplates;
  /** Open Data Mesh executor services by name (`odm_executors`), for jobs with the `odm` executor. */
  readonly odmExecutors: OdmServices;
  /** The base URL executor services call back on (--odm-callback-url); null: this server's API address. */
  readonly odmCallbackUrl: string | null;
}

export const lightOptions = {
  'data-dir': { type: 'string' },
  'http-addr': { type: 'string' },
  'node-name': { type: 'string' },
  'api-token': { type: 'string' },
  'api-token-file': { type: 'string' },
  'api-allowed-hosts': { type: 'string', multiple: true },
  'output-limit': { type: 'string' },
  'history-limit': { type: 'string' },
  'max-body-bytes': { type: 'string' },
  'snapshot-every': { type: 'string' },
  'plugin-dir': { type: 'string', multiple: true },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  insecure: { type: 'boolean' },
  'mail-host': { type: 'string' },
  'mail-port': { type: 'string' },
  'mail-username': { type: 'string' },
  'mail-password': { type: 'string' },
  'mail-from': { type: 'string' },
  'mail-payload': { type: 'string' },
  'mail-subject-prefix': { type: 'string' },
  'webhook-endpoint': { type: 'string' },
  'webhook-url': { type: 'string' },
  'webhook-payload': { type: 'string' },
  'webhook-headers': { type: 'string', multiple: true },
  'pre-webhook-endpoint': { type: 'string' },
  'pre-webhook-payload': { type: 'string' },
  'pre-webhook-headers': { type: 'string', multiple: true },
  'notify-attempts': { type: 'string' },
  'notify-backoff': { type: 'string' },
  'notify-timeout': { type: 'string' },
  'odm-executors': { type: 'string' },
  'odm-callback-url': { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;
const options: ParseArgsOptionsConfig = lightOptions;

export const lightUsage = `Usage: clocktower light [flags]

Runs Clocktower in one process on one node: the scheduler, the built-in
shell and http executors and the REST API, with its data in --data-dir.

Flags (each also settable as CLOCKTOWER_<FLAG> in the environment, e.g.
CLOCKTOWER_HTTP_ADDR, or as a key of the JSON --config file):
  --data-dir DIR          where the log and snapshots live (default ./data)
  --http-addr HOST:PORT   REST API address (default 127.0.0.1:8080; port 0 picks a free one)
  --node-name NAME        this node's name (default: the host name)
  --api-token TOKEN       require "Authorization: Bearer TOKEN" on every request
  --api-token-file FILE   the same, with the token read from FILE (kept off the command line)
  --api-allowed-hosts NAME[,NAME]
                          host names clients reach the API by, besides localhost, IP addresses,
                          this host's name and the addresses it binds and advertises; other
                          names in a request's Host header are refused (421). *.domain, or *
                          for any (repeatable)
  --tls-ca FILE --tls-cert FILE --tls-key FILE
                          mutual TLS (see \`clocktower tls --help\`): HTTPS for the API, and for a
                          cluster its RPC port; peers need a certificate from the same CA
  --insecure              allow a non-loopback address without TLS (logs a warning)
  --output-limit BYTES    output kept per execution, the tail (default 256000, at most 2097152)
  --history-limit N       executions kept per job, oldest dropped first (default 100)
  --max-body-bytes BYTES  largest request body accepted (default 1048576)
  --snapshot-every N      log entries between snapshots (default 10000)
  --plugin-dir DIR        where clocktower-executor-NAME / clocktower-processor-NAME
                          programs are found (repeatable; the first dir holding a
                          name wins; default: the directory of the clocktower
                          executable, then /etc/clocktower/plugins, or the
                          plugins dir next to the --config file)
  --log-level LEVEL       debug, info (default), warn or error
  --log-format FORMAT     text (default: one line per event, for a terminal) or json
                          (one JSON object per line, for a log collector)
  --odm-executors JSON    Open Data Mesh executor services for jobs with "executor": "odm":
                          {"NAME": {"active": true, "address": "http://host:9003",
                          "checkAfterCallback": false}} (in a config file: the odm_executors key)
  --odm-callback-url URL  the base URL executor services call back on (default: the API's address)
  --config FILE           JSON file with any of the keys above (lines starting with // are comments)
  -h, --help              show this help

Notifications (Dkron's settings; templates see {{.JobName}}, {{.Success}}, {{.Output}}, ...):
  --mail-host HOST --mail-port PORT
                          SMTP server for mail to a job's owner_email and its notify rules
  --mail-username NAME --mail-password PASSWORD
                          SMTP login (both or neither; the password is never logged or shown)
  --mail-from ADDRESS     sender (default clocktower@MAIL-HOST)
  --mail-subject-prefix P subject prefix (default [Clocktower])
  --mail-payload TEMPLATE mail body (default: the execution's output)
  --webhook-endpoint URL  POST after each finished execution (its last attempt); --webhook-url
                          is the same (Dkron's old name)
  --webhook-payload TEMPLATE    the body (needed with --webhook-endpoint)
  --webhook-headers NAME:VALUE  a header to send (repeatable; values are never logged or shown)
  --pre-webhook-endpoint URL  --pre-webhook-payload TEMPLATE  --pre-webhook-headers NAME:VALUE
                          the same, when each execution starts
  --notify-attempts N     attempts per delivery before it is failed (default 5)
  --notify-backoff DURATION     wait after the first failed attempt, doubling (default 1s)
  --notify-timeout DURATION     time limit of one attempt (default 10s)
`;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'CT_CONFIG_INVALID';
}

/** Flag values merged from the --config file, the environment and the flags, in that order. */
export type RawFlags = Partial<Record<string, string | string[] | boolean>>;

/**
 * Parse `argv` against `opts`; every flag may also come from the JSON
 * --config file or from CLOCKTOWER_<FLAG> in the environment. 'help' when asked.
 */
export function mergeFlags(argv: string[], env: Record<string, string | undefined>, opts: ParseArgsOptionsConfig): RawFlags | 'help' {
  const args = dkronArgs(argv, opts);
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...opts, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
  } catch (err) {
    throw new ConfigError(explainParseError(err instanceof Error ? err.message : String(err), opts));
  }
  const values = parsed.values as Record<string, string | string[] | boolean | undefined>;
  if (values['help']) return 'help';
  const known = Object.keys(opts);
  const raw: RawFlags = {};
  const configFile = values['config'];
  if (typeof configFile === 'string') {
    raw['config'] = configFile;
    for (const [key, v] of Object.entries(readConfigFile(configFile))) {
      if (key === 'encrypt') throw new ConfigError(`${configFile}: ${encryptMessage}`);
      const k = fileKey(key, v, opts);
      if (!known.includes(k)) throw new ConfigError(`${configFile}: unknown key "${key}"${closest(key, known)} (known: ${known.join(', ')})`);
      raw[k] = opts[k]?.type === 'boolean' ? configBool(`${configFile}: "${key}"`, v) : configValue(k, v);
    }
  }
  for (const k of known) {
    const fromEnv = env[`CLOCKTOWER_${k.toUpperCase().replaceAll('-', '_')}`];
    if (fromEnv !== undefined && fromEnv !== '') {
      const o = opts[k];
      raw[k] = o?.type === 'boolean' ? configBool(`CLOCKTOWER_${k.toUpperCase().replaceAll('-', '_')}`, fromEnv) : o?.multiple ? fromEnv.split(',') : fromEnv;
    }
    const fromFlag = values[k];
    if (fromFlag !== undefined) raw[k] = fromFlag;
  }
  return raw;
}

/** Dkron's flag names that mean one of ours (only where ours exists in this command). */
export const dkronAliases: Readonly<Record<string, string>> = {
  'bind-addr': 'rpc-addr',
  'advertise-addr': 'advertise-rpc-addr',
};

const encryptMessage =
  '--encrypt is Dkron\'s gossip encryption key, and Clocktower has no gossip layer to encrypt. ' +
  'Clocktower\'s gRPC ports (Raft and agents) have no TLS yet: keep them on a private network, ' +
  'and put the REST API behind a TLS-terminating proxy (with --api-token); see the README, "Status"';

/** Rewrite Dkron's flag names to ours; refuse --encrypt with the way to go instead. */
function dkronArgs(argv: string[], opts: ParseArgsOptionsConfig): string[] {
  return argv.map((arg) => {
    const m = /^--([a-z-]+)(=.*)?$/s.exec(arg);
    if (!m?.[1]) return arg;
    if (m[1] === 'encrypt') throw new ConfigError(encryptMessage);
    const ours = dkronAliases[m[1]];
    return ours !== undefined && ours in opts && !(m[1] in opts) ? `--${ours}${m[2] ?? ''}` : arg;
  });
}

/** node:util's "Unknown option '--x'" with the closest known flag named. */
function explainParseError(message: string, opts: ParseArgsOptionsConfig): string {
  const m = /^Unknown option '--([^']+)'/.exec(message);
  if (!m?.[1]) return message;
  const flags = [...Object.keys(opts), 'config', 'help'];
  return `unknown flag --${m[1]}${closest(m[1], flags, '--')}; see --help for the flags`;
}

/** ` (did you mean --x?)` for the nearest name within a few edits, or ''. */
export function closest(name: string, names: readonly string[], prefix = ''): string {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const n of names) {
    const d = editDistance(name, n);
    if (d < bestDistance) {
      best = n;
      bestDistance = d;
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? ` (did you mean ${prefix}${best}?)` : '';
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/** A config file key as one of our flags: Dkron's aliases, and dkron.yml's `tags:` map for --tag. */
function fileKey(key: string, value: unknown, opts: ParseArgsOptionsConfig): string {
  if (key === 'tags' && 'tag' in opts && typeof value === 'object' && value !== null && !Array.isArray(value)) return 'tag';
  if (key === 'odm_executors' && 'odm-executors' in opts) return 'odm-executors';
  const ours = dkronAliases[key];
  return ours !== undefined && ours in opts && !(key in opts) ? ours : key;
}

/**
 * A boolean setting from the environment or a config file: true or false, or
 * one of Go's spellings (1, t, TRUE, 0, f, FALSE, ...); anything else is an
 * error naming where it came from, never a silent false.
 */
function configBool(where: string, v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if ((typeof v === 'string' && v.trim() !== '') || typeof v === 'number') {
    try {
      return parseGoBool(where, String(v));
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
  }
  throw new ConfigError(`${where} must be true or false, not ${JSON.stringify(v)}`);
}

function configValue(key: string, v: unknown): string | string[] | boolean {
  if (key === 'tag' && typeof v === 'object' && v !== null && !Array.isArray(v)) {
    return Object.entries(v).map(([k, x]) => `${k}=${String(x)}`);
  }
  if (key === 'odm-executors' && typeof v === 'object' && v !== null) return JSON.stringify(v);
  return Array.isArray(v) ? v.map(String) : typeof v === 'boolean' ? v : String(v);
}

export function parseLightConfig(argv: string[], env: Record<string, string | undefined>, version: string): LightConfig | 'help' {
  const raw = mergeFlags(argv, env, options);
  return raw === 'help' ? 'help' : lightConfigFrom(raw, version);
}

/** The settings light mode and a server share. */
export function lightConfigFrom(raw: RawFlags, version: string, alsoExposed: readonly string[] = []): LightConfig {
  const httpAddr = str(raw, 'http-addr') ?? '127.0.0.1:8080';
  checkHostPort('http-addr', httpAddr);
  const tls = tlsFiles(raw);
  // (An address that is not HOST:PORT is reported by its own check.)
  const insecureAddresses = tls ? [] : [httpAddr, ...alsoExposed].filter((a) => hostPortPattern.test(a) && !isLoopback(a));
  if (insecureAddresses.length > 0 && raw['insecure'] !== true) {
    throw new ConfigError(
      `${insecureAddresses.join(', ')} ${insecureAddresses.length === 1 ? 'is' : 'are'} not a loopback address, and there is no TLS: ` +
      'anyone who can reach it could run commands on this cluster. Give --tls-ca, --tls-cert and --tls-key ' +
      '(see `clocktower tls --help`), or --insecure to run without TLS on a network you trust',
    );
  }
  return {
    tls,
    insecureAddresses,
    dataDir: str(raw, 'data-dir') ?? './data',
    httpAddr,
    nodeName: str(raw, 'node-name') ?? hostname(),
    apiToken: apiToken(raw),
    apiAllowedHosts: allowedHosts(raw),
    outputLimit: atMost(positiveInt(raw, 'output-limit', 256_000), 'output-limit', maxOutputLimit),
    historyLimit: positiveInt(raw, 'history-limit', 100),
    maxBodyBytes: positiveInt(raw, 'max-body-bytes', 1_048_576),
    snapshotEvery: positiveInt(raw, 'snapshot-every', 10_000),
    pluginDirs: pluginDirs(raw),
    logLevel: oneOf(raw, 'log-level', logLevels, 'info'),
    logFormat: oneOf(raw, 'log-format', logFormats, 'text'),
    version,
    ...notifySettings(raw),
    odmExecutors: odmExecutors(raw),
    odmCallbackUrl: odmCallbackUrl(raw),
  };
}

/** Dkron's notification settings (a mail without --mail-host, or a webhook without its payload, is an error). */
function notifySettings(raw: RawFlags): { notify: NotifySettings; notifyTemplates: ParsedTemplates } {
  const webhookUrl = str(raw, 'webhook-url');
  const endpoint = str(raw, 'webhook-endpoint');
  if (webhookUrl !== undefined && endpoint !== undefined && webhookUrl !== endpoint) {
    throw new ConfigError('--webhook-url is the old name of --webhook-endpoint: give one of them');
  }
  const hook = (name: string, url: string | undefined): WebhookSettings | null => {
    const payload = str(raw, `${name}-payload`) ?? '';
    const headers = headerList(raw, `${name}-headers`);
    if (url === undefined || url === '') {
      if (payload !== '' || headers.length > 0) throw new ConfigError(`--${name}-payload and --${name}-headers need --${name}-endpoint, the URL to POST to`);
      return null;
    }
    return { endpoint: url, payload, headers };
  };
  const host = str(raw, 'mail-host') ?? '';
  const port = str(raw, 'mail-port');
  const mailKeys = ['mail-port', 'mail-username', 'mail-password', 'mail-from', 'mail-payload', 'mail-subject-prefix'];
  if (host === '' && mailKeys.some((k) => str(raw, k) !== undefined && str(raw, k) !== '')) {
    throw new ConfigError(`--${mailKeys.find((k) => str(raw, k) !== undefined && str(raw, k) !== '') ?? 'mail-port'} needs --mail-host, the SMTP server`);
  }
  const settings: NotifySettings = {
    webhook: hook('webhook', endpoint ?? webhookUrl),
    preWebhook: hook('pre-webhook', str(raw, 'pre-webhook-endpoint')),
    mail: host === '' ? null : {
      host,
      port: port === undefined ? 25 : Number(port),
      username: str(raw, 'mail-username') ?? '',
      password: str(raw, 'mail-password') ?? '',
      from: str(raw, 'mail-from') ?? '',
      payload: str(raw, 'mail-payload') ?? '',
      subjectPrefix: str(raw, 'mail-subject-prefix') ?? '[Clocktower]',
    },
    attempts: positiveInt(raw, 'notify-attempts', defaultNotifySettings.attempts),
    backoffMs: goDuration(raw, 'notify-backoff', defaultNotifySettings.backoffMs),
    timeoutMs: goDuration(raw, 'notify-timeout', defaultNotifySettings.timeoutMs),
  };
  const checked = checkNotifySettings(settings);
  if ('key' in checked) throw new ConfigError(`--${checked.key}: ${checked.message}`);
  return { notify: settings, notifyTemplates: checked };
}

/** `Name:Value` entries (split at the first colon; Dkron cut values at a second one). */
function headerList(raw: RawFlags, key: string): [string, string][] {
  const v = raw[key];
  const entries = Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
  return entries.filter((e) => e.trim() !== '').map((e) => {
    const i = e.indexOf(':');
    // The entry itself is not shown: it may be a secret given the wrong way.
    if (i <= 0) throw new ConfigError(`--${key}: an entry has no "Name:" before its value; give each header as Name:Value`);
    return [e.slice(0, i).trim(), e.slice(i + 1).trim()];
  });
}

function goDuration(raw: RawFlags, key: string, fallback: number): number {
  const v = str(raw, key);
  if (v === undefined) return fallback;
  let ms: number;
  try {
    ms = parseGoDurationMs(v);
  } catch (err) {
    throw new ConfigError(`--${key}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (ms <= 0) throw new ConfigError(`--${key} must be above 0, not "${v}"`);
  return ms;
}

function odmExecutors(raw: RawFlags): OdmServices {
  const parsed = parseOdmServices(str(raw, 'odm-executors') ?? '');
  if (typeof parsed === 'string') throw new ConfigError(parsed);
  return parsed;
}

function odmCallbackUrl(raw: RawFlags): string | null {
  const v = str(raw, 'odm-callback-url');
  if (v === undefined || v === '') return null;
  let url: URL | null;
  try {
    url = new URL(v);
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new ConfigError(`--odm-callback-url must be an http(s) URL, not "${v}"`);
  return v.replace(/\/+$/, '');
}

/** --api-token, or the token in --api-token-file (not both). */
function apiToken(raw: RawFlags): string | undefined {
  const token = str(raw, 'api-token');
  const file = str(raw, 'api-token-file');
  if (file === undefined) return token;
  if (token !== undefined) throw new ConfigError('give the API token once: --api-token (CLOCKTOWER_API_TOKEN) or --api-token-file (CLOCKTOWER_API_TOKEN_FILE), not both');
  try {
    return readTokenFile(file);
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
}

/** --api-allowed-hosts: comma lists, repeatable; each entry checked. */
function allowedHosts(raw: RawFlags): string[] {
  const v = raw['api-allowed-hosts'];
  const entries = (Array.isArray(v) ? v : typeof v === 'string' ? [v] : []).flatMap((e) => e.split(',')).map((e) => e.trim()).filter((e) => e !== '');
  try {
    hostPolicy(entries);
  } catch (err) {
    throw new ConfigError(`--api-allowed-hosts: ${err instanceof Error ? err.message : String(err)}`);
  }
  return entries;
}

/** --plugin-dir as given, or Dkron's places: next to the executable, then /etc or next to the config file. */
function pluginDirs(raw: RawFlags): string[] {
  const v = raw['plugin-dir'];
  const given = Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
  if (given.some((d) => d.trim() === '')) throw new ConfigError('--plugin-dir must name a directory, not ""');
  if (given.length > 0) return given.map((d) => resolve(d));
  const configFile = str(raw, 'config');
  const executable = process.argv[1];
  return [
    ...(executable ? [dirname(resolve(executable))] : []),
    configFile === undefined ? '/etc/clocktower/plugins' : resolve(dirname(configFile), 'plugins'),
  ];
}

function oneOf<T extends string>(raw: RawFlags, key: string, allowed: readonly T[], fallback: T): T {
  const v = str(raw, key);
  if (v === undefined) return fallback;
  const lower = v.toLowerCase();
  const found = allowed.find((a) => a === lower);
  if (found === undefined) throw new ConfigError(`--${key} must be one of ${allowed.join(', ')}, not "${v}"`);
  return found;
}

function tlsFiles(raw: RawFlags): TlsFiles | null {
  const ca = str(raw, 'tls-ca');
  const cert = str(raw, 'tls-cert');
  const key = str(raw, 'tls-key');
  if (ca === undefined && cert === undefined && key === undefined) return null;
  if (ca === undefined || cert === undefined || key === undefined) throw new ConfigError('TLS needs all three of --tls-ca, --tls-cert and --tls-key');
  return { ca: resolve(ca), cert: resolve(cert), key: resolve(key) };
}

/** True for HOST:PORT on a loopback address (127.0.0.0/8, ::1, localhost; an empty host means 127.0.0.1). */
export function isLoopback(hostPort: string): boolean {
  const m = /^(?:\[(?<v6>[^\]]+)\]|(?<host>[^:]*)):\d+$/.exec(hostPort);
  const host = (m?.groups?.['v6'] ?? m?.groups?.['host'] ?? hostPort).toLowerCase();
  if (host === '' || host === 'localhost' || host.endsWith('.localhost') || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

const hostPortPattern = /^(\[[^\]]+\]|[^:]*):\d{1,5}$/;

export function checkHostPort(flag: string, value: string): void {
  if (!hostPortPattern.test(value)) throw new ConfigError(`--${flag} must be HOST:PORT, not "${value}"`);
}

export function str(raw: RawFlags, key: string): string | undefined {
  const v = raw[key];
  return typeof v === 'string' ? v : undefined;
}

/**
 * The config file. A name ending in .yml or .yaml is YAML (Dkron's
 * dkron.yml, with the flag names as keys). Otherwise JSON, where a line whose
 * first non-blank characters are `//` is a comment (a JSON string cannot span
 * lines, so such a line is never inside one). Comments become blanks of the
 * same length: positions in JSON errors stay true.
 */
function readConfigFile(path: string): Record<string, unknown> {
  let value: unknown;
  const isYaml = /\.ya?ml$/i.test(path);
  try {
    const text = readFileSync(path, 'utf8');
    value = isYaml ? parseYaml(text) : JSON.parse(text.replace(/^[ \t]*\/\/.*$/gm, (comment) => ' '.repeat(comment.length)));
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (isYaml && value === null) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(`${path}: must hold ${isYaml ? 'a YAML mapping' : 'a JSON object'}`);
  return value as Record<string, unknown>;
}

/**
 * The largest --output-limit (2 MiB): a finished execution's output goes into
 * one log entry, and an entry may take at most 4 MiB.
 */
export const maxOutputLimit = 2 * 1024 * 1024;

function atMost(n: number, key: string, max: number): number {
  if (n > max) throw new ConfigError(`--${key} may be at most ${max}, not ${n}`);
  return n;
}

export function positiveInt(raw: RawFlags, key: string, fallback: number): number {
  const v = str(raw, key);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new ConfigError(`--${key} must be a whole number above 0, not "${v}"`);
  return n;
}
