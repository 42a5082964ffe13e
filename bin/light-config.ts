// Configuration of a light-mode server: defaults, then a JSON config file
// (--config), then environment variables (CLOCKTOWER_<FLAG>), then flags.
// Validated once; unknown keys are rejected.

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';

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
  readonly version: string;
}

const options = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
  'http-addr': { type: 'string' },
  'node-name': { type: 'string' },
  'api-token': { type: 'string' },
  'output-limit': { type: 'string' },
  'history-limit': { type: 'string' },
  'max-body-bytes': { type: 'string' },
  'snapshot-every': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Key = Exclude<keyof typeof options, 'config' | 'help'>;
const keys = Object.keys(options).filter((k) => k !== 'config' && k !== 'help') as Key[];

export const lightUsage = `Usage: clocktower light [flags]

Runs Clocktower in one process on one node: the scheduler, the built-in
shell and http executors and the REST API, with its data in --data-dir.

Flags (each also settable as CLOCKTOWER_<FLAG> in the environment, e.g.
CLOCKTOWER_HTTP_ADDR, or as a key of the JSON --config file):
  --data-dir DIR          where the log and snapshots live (default ./data)
  --http-addr HOST:PORT   REST API address (default 127.0.0.1:8080; port 0 picks a free one)
  --node-name NAME        this node's name (default: the host name)
  --api-token TOKEN       require "Authorization: Bearer TOKEN" on every request
  --output-limit BYTES    output kept per execution, the tail (default 256000)
  --history-limit N       executions kept per job, oldest dropped first (default 100)
  --max-body-bytes BYTES  largest request body accepted (default 1048576)
  --snapshot-every N      log entries between snapshots (default 10000)
  --config FILE           JSON file with any of the keys above
  -h, --help              show this help
`;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'CT_CONFIG_INVALID';
}

export function parseLightConfig(argv: string[], env: Record<string, string | undefined>, version: string): LightConfig | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  } catch (err) {
    throw new ConfigError(err instanceof Error ? err.message : String(err));
  }
  if (parsed.values.help) return 'help';
  const raw: Partial<Record<Key, string>> = {};
  if (parsed.values.config !== undefined) {
    const file = readConfigFile(parsed.values.config);
    for (const [k, v] of Object.entries(file)) {
      if (!keys.includes(k as Key)) throw new ConfigError(`${parsed.values.config}: unknown key "${k}" (known: ${keys.join(', ')})`);
      raw[k as Key] = String(v);
    }
  }
  for (const k of keys) {
    const fromEnv = env[`CLOCKTOWER_${k.toUpperCase().replaceAll('-', '_')}`];
    if (fromEnv !== undefined && fromEnv !== '') raw[k] = fromEnv;
    const fromFlag = parsed.values[k];
    if (fromFlag !== undefined) raw[k] = fromFlag;
  }
  const httpAddr = raw['http-addr'] ?? '127.0.0.1:8080';
  if (!/^(\[[^\]]+\]|[^:]*):\d{1,5}$/.test(httpAddr)) throw new ConfigError(`--http-addr must be HOST:PORT, not "${httpAddr}"`);
  return {
    dataDir: raw['data-dir'] ?? './data',
    httpAddr,
    nodeName: raw['node-name'] ?? hostname(),
    apiToken: raw['api-token'],
    outputLimit: positiveInt(raw, 'output-limit', 256_000),
    historyLimit: positiveInt(raw, 'history-limit', 100),
    maxBodyBytes: positiveInt(raw, 'max-body-bytes', 1_048_576),
    snapshotEvery: positiveInt(raw, 'snapshot-every', 10_000),
    version,
  };
}

function readConfigFile(path: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(`${path}: must hold a JSON object`);
  return value as Record<string, unknown>;
}

function positiveInt(raw: Partial<Record<Key, string>>, key: Key, fallback: number): number {
  const v = raw[key];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new ConfigError(`--${key} must be a whole number above 0, not "${v}"`);
  return n;
}
