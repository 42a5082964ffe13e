// The operator log: pino behind one small interface. JSON lines (one object
// per line: time, level, reporting_node, msg and the line's fields) or, for a
// terminal, text lines (`TIME LEVEL msg key=value ...`). pino writes
// synchronously to the destination it is given (no worker-thread
// transport), so a line is out before the call returns (the server's
// destination then writes a turn's lines together: coalesced-lines.ts). Text lines (the
// default) are formatted directly, with the same redaction.
//
// Nothing secret reaches the destination: fields whose key names a secret
// (password, token, secret, ...: common/secret-values) are replaced at any depth, the password
// of a URL (`amqp://user:pass@host`) is cut out of every line, and values
// registered with `addSecret()` (the API token) are replaced wherever they
// appear.

import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import { hideUrlPasswords, isSecretKey } from '../../common/secret-values.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'json' | 'text';
export const logLevels: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
export const logFormats: readonly LogFormat[] = ['json', 'text'];

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A value never to be written (e.g. the API token); replaced by [redacted] wherever it appears. */
  addSecret(value: string): void;
}

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** Written to every JSON line as `reporting_node` (Dkron's name for the node that reports). */
  readonly node: string;
  /** Receives whole lines, each ending in "\n". */
  readonly write: (line: string) => void;
}

export const redacted = '[redacted]';


export function createLogger(options: LoggerOptions): Logger {
  const secrets: string[] = [];
  const scrub = (line: string): string => {
    let out = hideUrlPasswords(line, redacted);
    for (const s of secrets) if (out.includes(s)) out = out.split(s).join(redacted);
    return out;
  };
  const addSecret = (value: string) => {
    if (value.length >= 4 && !secrets.includes(value)) secrets.push(value);
  };
  if (options.format === 'text') return textLogger(options, scrub, addSecret);
  const destination: DestinationStream = { write: (line) => options.write(scrub(line)) };
  const p: PinoLogger = pino({
    level: options.level,
    base: { reporting_node: options.node },
    timestamp: pino.stdTimeFunctions.isoTime,
    messageKey: 'msg',
    formatters: {
      level: (label) => ({ level: label }),
      log: (object) => redactFields(object) as Record<string, unknown>,
    },
  }, destination);
  const at = (level: LogLevel) => (msg: string, fields?: LogFields) => {
    if (fields === undefined) p[level](msg);
    else p[level]({ ...fields }, msg);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), addSecret };
}

/**
 * Text lines for a terminal (`TIME LEVEL msg key=value ...`), written
 * directly: the same fields and redaction as the JSON lines, without
 * encoding each line as JSON only to parse it again.
 */
function textLogger(options: LoggerOptions, scrub: (line: string) => string, addSecret: (value: string) => void): Logger {
  const threshold = logLevels.indexOf(options.level);
  const at = (level: LogLevel) => {
    if (logLevels.indexOf(level) < threshold) return () => {};
    const label = level.toUpperCase();
    return (msg: string, fields?: LogFields) => {
      let rest = '';
      if (fields !== undefined) {
        // As redactFields(fields), without a copy of the fields for each line.
        for (const k of Object.keys(fields)) {
          let v = fields[k];
          if (v === undefined) continue;
          if (secretKey(k) && v !== '' && v !== null) v = redacted;
          else if (typeof v === 'object' && v !== null) v = redactFields(v, 1);
          rest += ` ${k}=${typeof v === 'string' && v !== '' && !/[\s"=]/.test(v) ? v : JSON.stringify(v)}`;
        }
      }
      options.write(scrub(`${new Date().toISOString()} ${label} ${msg}${rest}\n`));
    };
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), addSecret };
}

/** Replaces the values of secret-named keys, at any depth. */
export function redactFields(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactFields(v, depth + 1));
  if (value instanceof Error) return { message: value.message, ...('code' in value ? { code: (value as { code: unknown }).code } : {}) };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = secretKey(k) && v !== '' && v !== null && v !== undefined ? redacted : redactFields(v, depth + 1);
  }
  return out;
}

/** Field names repeat on every line: each is checked once (up to a bound, past which they are checked each time). */
const secretKeyCache = new Map<string, boolean>();
function secretKey(key: string): boolean {
  let secret = secretKeyCache.get(key);
  if (secret === undefined) {
    secret = isSecretKey(key);
    if (secretKeyCache.size < 10_000) secretKeyCache.set(key, secret);
  }
  return secret;
}

/** A logger that drops everything (for parts composed without one). */
export const silentLogger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, addSecret: () => {} };
