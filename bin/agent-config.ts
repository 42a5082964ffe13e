// Configuration of `clocktower agent`: light mode's settings plus Dkron's
// cluster flags. Same sources and precedence as light mode (config file,
// then CLOCKTOWER_<FLAG>, then flags).

import type { ParseArgsConfig } from 'node:util';
import { parseGoDurationMs } from '../common/go-duration.js';
import { ConfigError, checkHostPort, lightConfigFrom, lightOptions, mergeFlags, positiveInt, str, type LightConfig, type RawFlags } from './light-config.js';

export interface AgentConfig extends LightConfig {
  /** Run a server (a Raft member that stores and schedules jobs). */
  readonly server: boolean;
  /** With an empty data directory: wait for this many servers, then bootstrap a cluster of them (0: join only). */
  readonly bootstrapExpect: number;
  /** Servers' --rpc-addr to contact (--join and --retry-join; both retry until they answer). */
  readonly join: readonly string[];
  /** Raft and cluster RPC address. */
  readonly rpcAddr: string;
  /** The RPC address other servers use to reach this one (default: --rpc-addr), e.g. behind NAT or a proxy. */
  readonly advertiseRpcAddr: string;
  /** Scales Raft's timing: a tick is 100 ms x this; an election times out after 10-20 ticks. */
  readonly raftMultiplier: number;
  /** Where the replicated command log lives: the built-in Raft, or an existing etcd. */
  readonly store: 'raft' | 'etcd';
  /** With --store etcd. */
  readonly etcd: EtcdFlags | null;
  /** Dkron's node tags (--tag key=value), matched against jobs' `tags`. */
  readonly tags: Readonly<Record<string, string>>;
  /** Executions this node runs at once; more wait in a queue. */
  readonly capacity: number;
  /** Servers: an agent silent or away this long is cut off and what it ran is marked lost. */
  readonly agentTimeoutMs: number;
  /** On SIGTERM an agent lets running executions finish this long, then stops them. */
  readonly shutdownGraceMs: number;
  /** HOST:PORT of a listener serving GET /metrics (an agent has no REST API); null: none. */
  readonly metricsAddr: string | null;
  /** `--pull`: an agent that polls the servers' REST API (--join takes API URLs); null: a gRPC agent. */
  readonly pull: PullFlags | null;
}

export interface PullFlags {
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
  readonly backoffStepMs: number;
  /** How long one poll may wait on the server for work. */
  readonly waitMs: number;
}

export interface EtcdFlags {
  readonly endpoints: readonly string[];
  readonly prefix: string;
  readonly leaseTtlSec: number;
  /** Files: CA bundle, client certificate and key (TLS to etcd). */
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly username?: string;
  readonly password?: string;
}

const agentOptions = {
  ...lightOptions,
  server: { type: 'boolean' },
  'bootstrap-expect': { type: 'string' },
  join: { type: 'string', multiple: true },
  'retry-join': { type: 'string', multiple: true },
  'rpc-addr': { type: 'string' },
  'advertise-rpc-addr': { type: 'string' },
  'raft-multiplier': { type: 'string' },
  store: { type: 'string' },
  'etcd-endpoints': { type: 'string', multiple: true },
  'etcd-prefix': { type: 'string' },
  'etcd-lease-ttl': { type: 'string' },
  'etcd-ca': { type: 'string' },
  'etcd-cert': { type: 'string' },
  'etcd-key': { type: 'string' },
  'etcd-username': { type: 'string' },
  'etcd-password': { type: 'string' },
  tag: { type: 'string', multiple: true },
  capacity: { type: 'string' },
  'agent-timeout': { type: 'string' },
  'shutdown-grace': { type: 'string' },
  'metrics-addr': { type: 'string' },
  pull: { type: 'boolean' },
  'max-concurrent': { type: 'string' },
  'pull-backoff-min': { type: 'string' },
  'pull-backoff-max': { type: 'string' },
  'pull-backoff-step': { type: 'string' },
  'pull-wait': { type: 'string' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

export const agentUsage = `Usage: clocktower agent --server [flags]
       clocktower agent --join HOST:PORT [--tag KEY=VALUE ...] [flags]
       clocktower agent --pull --join http://HOST:PORT [--tag KEY=VALUE ...] [--max-concurrent N] [flags]

With --server: runs a Clocktower server, a member of a Raft-replicated cluster
that stores jobs, schedules them (only the leader fires) and serves the REST
API; it is also an agent that runs executions. Any server answers the API:
writes go to the leader, reads are linearizable (add ?stale to read the local copy).

Without --server: runs an agent only. It dials a server (--join), follows it
to the leader, registers its tags and runs the executions the leader assigns
it; it reconnects by itself when the leader changes.

With --pull: an agent that only dials out over HTTP(S) (behind NAT, a proxy or a
firewall): it polls the servers' REST API for work (README, "Pull agents"); no
gRPC port on either side. --join takes the servers' API URLs.

Pull agent flags:
  --pull                   poll the REST API instead of holding a gRPC stream
  --max-concurrent N       executions run at once; a saturated agent takes no more (default 1000)
  --pull-backoff-min DURATION  --pull-backoff-max DURATION  --pull-backoff-step DURATION
                           when a poll brings nothing or a server errs, wait min, then step more
                           each time up to max; back to min on work (default 1ms, 1s, 10ms)
  --pull-wait DURATION     how long one poll may wait on the server for work (default 10s; 0: none)
  --api-token TOKEN        the token the agent shows (a token with operator write once ACLs are on)

Cluster flags (Dkron's):
  --server                 run a server (without it: an agent only, which needs --join)
  --bootstrap-expect N     with an empty data dir: wait for N servers, then form a cluster of them
  --join HOST:PORT         a server's --rpc-addr to contact (repeatable)
  --retry-join HOST:PORT   the same (repeatable; joining always retries)
  --rpc-addr HOST:PORT     Raft and cluster RPC address (default 127.0.0.1:6868)
  --advertise-rpc-addr HOST:PORT
                           the address other servers dial to reach this one (default: --rpc-addr)
  --raft-multiplier N      scale Raft timing (default 1: 100 ms ticks, elections after 1-2 s)
  --tag KEY=VALUE          a node tag jobs select by (repeatable), e.g. --tag role=web --tag zone=a
  --capacity N             executions this node runs at once; more wait in a queue (default 1000)
  --agent-timeout DURATION servers: an agent silent or away this long is cut off and its running
                           executions are marked lost (retried per the job's retries) (default 15s)
  --shutdown-grace DURATION
                           on SIGTERM, let this node's running executions finish this long, then
                           stop them and report them stopped (default 30s)
  --metrics-addr HOST:PORT serve GET /metrics (Prometheus) on this address; for an agent, which
                           has no REST API (a server serves /metrics on --http-addr as well)

Store flags (servers):
  --store raft|etcd        the replicated command log: the built-in Raft (default), or an existing
                           etcd, which then also elects the leader (no --bootstrap-expect/--join)
  --etcd-endpoints URL[,URL]  etcd's client URLs, e.g. http://10.0.0.5:2379 (repeatable)
  --etcd-prefix PREFIX     keys live under this prefix (default /clocktower)
  --etcd-lease-ttl DURATION   the leader's lease: a leader silent this long is replaced (default 3s)
  --etcd-ca FILE  --etcd-cert FILE  --etcd-key FILE   TLS to etcd (https:// endpoints)
  --etcd-username NAME  --etcd-password PASSWORD     etcd authentication

Start three servers with --bootstrap-expect 3, each --join-ing the others;
add a fourth later with just --join. Restarted servers rejoin from their data dir.

Node flags (as in clocktower light):
  --data-dir DIR  --http-addr HOST:PORT  --node-name NAME  --api-token TOKEN  --api-token-file FILE
  --api-allowed-hosts NAME[,NAME]  --tls-ca FILE --tls-cert FILE --tls-key FILE  --insecure
  --output-limit BYTES  --history-limit N  --max-body-bytes BYTES  --snapshot-every N
  --plugin-dir DIR (repeatable)  --log-level debug|info|warn|error  --log-format text|json
  --odm-executors JSON (servers; odm_executors in a config file)  --odm-callback-url URL
  --config FILE  -h, --help

Notification flags (servers; Dkron's, see \`clocktower light --help\`):
  --mail-host --mail-port --mail-username --mail-password --mail-from --mail-payload
  --mail-subject-prefix  --webhook-endpoint (--webhook-url) --webhook-payload --webhook-headers
  --pre-webhook-endpoint --pre-webhook-payload --pre-webhook-headers
  --notify-attempts N  --notify-backoff DURATION  --notify-timeout DURATION
`;

export function parseAgentConfig(argv: string[], env: Record<string, string | undefined>, version: string): AgentConfig | 'help' {
  const raw = mergeFlags(argv, env, agentOptions);
  if (raw === 'help') return 'help';
  const server = raw['server'] === true;
  // A pull agent's --join are API URLs: their host:port is what it dials.
  const joinTargets = [...list(raw, 'join'), ...list(raw, 'retry-join')].map((j) => j.replace(/^https?:\/\//, '').replace(/\/+$/, ''));
  // What this node serves or dials besides its API: a server's RPC address; an agent's servers.
  const exposed = server ? [str(raw, 'rpc-addr') ?? '127.0.0.1:6868', str(raw, 'advertise-rpc-addr') ?? '', ...joinTargets].filter((a) => a !== '') : joinTargets;
  const base = lightConfigFrom(raw, version, exposed);
  const agentOnly = {
    tags: parseTags(list(raw, 'tag')),
    capacity: positiveInt(raw, 'capacity', 1000),
    agentTimeoutMs: duration(raw, 'agent-timeout', 15_000),
    shutdownGraceMs: duration(raw, 'shutdown-grace', 30_000, true),
    metricsAddr: str(raw, 'metrics-addr') ?? null,
  };
  if (agentOnly.metricsAddr !== null) checkHostPort('metrics-addr', agentOnly.metricsAddr);
  const pullOnly = ['max-concurrent', 'pull-backoff-min', 'pull-backoff-max', 'pull-backoff-step', 'pull-wait'].find((k) => raw[k] !== undefined);
  if (raw['pull'] !== true && pullOnly) throw new ConfigError(`--${pullOnly} needs --pull`);
  if (raw['pull'] === true) {
    if (server) throw new ConfigError('--pull is for an agent without --server (a server holds the agents\' sessions itself)');
    const join = [...list(raw, 'join'), ...list(raw, 'retry-join')].map((j) => j.replace(/\/+$/, ''));
    if (join.length === 0) throw new ConfigError('a pull agent needs --join URL (a server\'s API, e.g. http://10.0.0.5:8080)');
    for (const j of join) {
      if (!/^https?:\/\/[^/\s]+$/.test(j)) throw new ConfigError(`--join with --pull takes a server's API URL such as http://10.0.0.5:8080, not "${j}"`);
    }
    const pull: PullFlags = {
      backoffMinMs: duration(raw, 'pull-backoff-min', 1, true), backoffMaxMs: duration(raw, 'pull-backoff-max', 1000),
      backoffStepMs: duration(raw, 'pull-backoff-step', 10, true), waitMs: duration(raw, 'pull-wait', 10_000, true),
    };
    if (pull.backoffMinMs > pull.backoffMaxMs) throw new ConfigError('--pull-backoff-min must not be above --pull-backoff-max');
    const capacity = raw['max-concurrent'] !== undefined ? positiveInt(raw, 'max-concurrent', 1000) : agentOnly.capacity;
    return { ...base, server, rpcAddr: '', advertiseRpcAddr: '', join, bootstrapExpect: 0, raftMultiplier: 1, store: 'raft', etcd: null, ...agentOnly, capacity, pull };
  }
  if (!server) {
    const join = [...list(raw, 'join'), ...list(raw, 'retry-join')];
    if (join.length === 0) throw new ConfigError('an agent without --server needs --join HOST:PORT (a server\'s --rpc-addr)');
    for (const j of join) checkHostPort('join', j);
    return { ...base, server, rpcAddr: '', advertiseRpcAddr: '', join, bootstrapExpect: 0, raftMultiplier: 1, store: 'raft', etcd: null, ...agentOnly, pull: null };
  }
  const rpcAddr = str(raw, 'rpc-addr') ?? '127.0.0.1:6868';
  checkHostPort('rpc-addr', rpcAddr);
  const join = [...list(raw, 'join'), ...list(raw, 'retry-join')];
  for (const j of join) checkHostPort('join', j);
  const store = str(raw, 'store') ?? 'raft';
  if (store !== 'raft' && store !== 'etcd') throw new ConfigError(`--store must be raft or etcd, not "${store}"`);
  if (store === 'etcd') {
    const advertise = str(raw, 'advertise-rpc-addr') ?? rpcAddr;
    checkHostPort('advertise-rpc-addr', advertise);
    return { ...base, server, rpcAddr, advertiseRpcAddr: advertise, join: [], bootstrapExpect: 0, raftMultiplier: 1, store, etcd: etcdFlags(raw), ...agentOnly, pull: null };
  }
  const stray = Object.keys(raw).find((k) => k.startsWith('etcd-') && raw[k] !== undefined);
  if (stray) throw new ConfigError(`--${stray} needs --store etcd`);
  const bootstrapExpect = raw['bootstrap-expect'] === undefined ? 0 : positiveInt(raw, 'bootstrap-expect', 0);
  if (bootstrapExpect === 0 && join.length === 0) throw new ConfigError('a server needs --bootstrap-expect N (to form a cluster) or --join HOST:PORT (to join one)');
  if (bootstrapExpect > 1 && /:0$/.test(base.httpAddr)) throw new ConfigError('--http-addr needs a fixed port in a cluster: other servers forward writes to it');
  const advertiseRpcAddr = str(raw, 'advertise-rpc-addr') ?? rpcAddr;
  checkHostPort('advertise-rpc-addr', advertiseRpcAddr);
  return { ...base, server, rpcAddr, advertiseRpcAddr, join, bootstrapExpect, raftMultiplier: positiveInt(raw, 'raft-multiplier', 1), store, etcd: null, ...agentOnly, pull: null };
}

function etcdFlags(raw: RawFlags): EtcdFlags {
  const endpoints = list(raw, 'etcd-endpoints').flatMap((e) => e.split(',')).map((e) => e.trim()).filter((e) => e !== '');
  if (endpoints.length === 0) throw new ConfigError('--store etcd needs --etcd-endpoints URL[,URL], e.g. http://127.0.0.1:2379');
  for (const e of endpoints) {
    if (!/^(https?:\/\/)?[^/\s]+:\d+\/?$/.test(e)) throw new ConfigError(`--etcd-endpoints: "${e}" is not a URL like http://HOST:PORT`);
  }
  const prefix = str(raw, 'etcd-prefix') ?? '/clocktower';
  if (prefix === '' || prefix === '/') throw new ConfigError('--etcd-prefix must not be empty or "/": Clocktower deletes and compacts under it');
  const ttlMs = duration(raw, 'etcd-lease-ttl', 3000);
  if (ttlMs < 1000) throw new ConfigError('--etcd-lease-ttl must be at least 1s (etcd grants leases in whole seconds)');
  const caFile = str(raw, 'etcd-ca');
  const certFile = str(raw, 'etcd-cert');
  const keyFile = str(raw, 'etcd-key');
  if ((certFile === undefined) !== (keyFile === undefined)) throw new ConfigError('--etcd-cert and --etcd-key go together');
  if (certFile !== undefined && caFile === undefined) throw new ConfigError('--etcd-cert needs --etcd-ca (the CA that signed etcd\'s certificate)');
  const username = str(raw, 'etcd-username');
  const password = str(raw, 'etcd-password');
  if (password !== undefined && username === undefined) throw new ConfigError('--etcd-password needs --etcd-username');
  return {
    endpoints, prefix: prefix.replace(/\/+$/, ''), leaseTtlSec: Math.ceil(ttlMs / 1000),
    ...(caFile !== undefined ? { caFile } : {}), ...(certFile !== undefined ? { certFile } : {}), ...(keyFile !== undefined ? { keyFile } : {}),
    ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}),
  };
}

function parseTags(pairs: readonly string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--tag must be KEY=VALUE, not "${pair}"`);
    tags[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return tags;
}

function duration(raw: RawFlags, key: string, fallback: number, zeroOk = false): number {
  const v = str(raw, key);
  if (v === undefined) return fallback;
  let ms: number;
  try {
    ms = parseGoDurationMs(v);
  } catch {
    throw new ConfigError(`--${key} must be a duration such as 10s or 1m30s, not "${v}"`);
  }
  if (ms < 0 || (ms === 0 && !zeroOk)) throw new ConfigError(`--${key} must be a duration above 0, not "${v}"`);
  return ms;
}

function list(raw: RawFlags, key: string): string[] {
  const v = raw[key];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}
