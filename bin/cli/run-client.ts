// The client commands: they talk to a Clocktower server's REST API.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { Agent, request } from 'undici';
import { tlsClientOptions, type TlsFiles } from '../../common/tls.js';
import { packageVersion } from '../package-version.js';
import { readTokenFile } from '../token-file.js';
import { clusterCommand, clusterHelp } from './cluster-commands.js';
import { aclCommand, aclHelp, aclKey } from './acl-commands.js';
import { tlsCommand, tlsUsage, TlsUsageError } from './tls-commands.js';

export interface ClientIo {
  stdout(s: string): void;
  stderr(s: string): void;
  env: Record<string, string | undefined>;
}

export function topLevelHelp(): string {
  return `Clocktower: a distributed cron job scheduler.

Usage: clocktower <command> [flags]

Server:
  light                 run everything in one process on one node (--help for flags)
  agent --server        run a server of a Raft-replicated cluster (--help for flags)
  agent --join H:P      run an agent: executions the leader assigns by --tag (--help for flags)

Jobs (talk to the REST API):
  jobs list             list jobs
  jobs get NAME         show a job
  jobs put -f FILE      create or replace jobs from a JSON file (- for stdin)
  jobs delete NAME      delete a job
  jobs run NAME         run a job now
  jobs toggle NAME      disable or enable a job
  jobs executions NAME  show a job's executions
  jobs stop NAME ID     stop a running execution (on whichever node runs it)
  jobs history NAME     a job's recorded changes: who, when, what (--version N shows one)
  jobs rollback NAME N  make version N the job again (itself a new version)

Workflow runs (talk to the REST API):
  runs list [--job J] [--state S]
                        list runs, newest first
  runs get ID           a run and its tasks
  runs stop ID          stop a run (running tasks killed, waiting ones never start)
  runs restart ID       run a finished run's failed, stopped and skipped tasks again

Cluster (talk to the REST API of any server):
  raft list-peers       list the Raft peers
  raft remove-peer --peer-id ID
                        remove a server from the cluster
  leave                 the server at --address hands over leadership, leaves and stops

Access control (talk to the REST API):
  acl bootstrap         turn ACLs on and print the first management token (once)
  acl token create --policy P [--description D] [--ttl 1h]
                        a token holding policies; prints its secret once
  acl token list|delete|self
  acl policy apply NAME -f FILE
                        create or replace a policy (JSON or YAML)
  acl policy list|get|delete

TLS (files in the current directory, or --dir):
  tls ca create         a cluster CA: clocktower-ca.pem and its key
  tls cert create --server|--agent|--cli [--dc DC]
                        a certificate named <role>.<dc>.clocktower, signed by the CA

Other:
  version               print the version

Client flags: --address URL (default http://127.0.0.1:8080, env CLOCKTOWER_ADDRESS),
              --api-token TOKEN (env CLOCKTOWER_API_TOKEN) or --api-token-file FILE
                (env CLOCKTOWER_API_TOKEN_FILE),
              --tls-ca FILE --tls-cert FILE --tls-key FILE (env CLOCKTOWER_TLS_CA, _CERT, _KEY):
                HTTPS with a client certificate (default address then https://127.0.0.1:8080)
Every command takes --help.
`;
}

const common = {
  address: { type: 'string' },
  'api-token': { type: 'string' },
  'api-token-file': { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const clientFlags = `Client flags:
  --address URL      the server's REST API (default http://127.0.0.1:8080, or https:// with TLS;
                     env CLOCKTOWER_ADDRESS)
  --api-token TOKEN  sent as "Authorization: Bearer TOKEN" (env CLOCKTOWER_API_TOKEN)
  --api-token-file FILE
                     the token read from FILE, kept off the command line (env CLOCKTOWER_API_TOKEN_FILE)
  --tls-ca FILE --tls-cert FILE --tls-key FILE
                     mutual TLS with a CLI certificate (env CLOCKTOWER_TLS_CA, _CERT, _KEY)
  -h, --help         show this help`;

const usage: Record<string, string> = {
  list: `clocktower jobs list [--json] [--q TEXT] [--status STATUS] [--metadata k=v ...]

Lists the jobs: name, schedule, executor, status, disabled, next run, counts.
  --json            print the jobs as the API returns them
  --q TEXT          only jobs whose name or display name contains TEXT
  --status STATUS   success, failed, partially_failed or untriggered
  --metadata k=v    only jobs with this metadata (repeatable: all must match)`,
  get: `clocktower jobs get NAME

Prints the job NAME as JSON (Dkron's job format).`,
  put: `clocktower jobs put -f FILE

Creates or replaces jobs. FILE holds one job or an array of jobs as JSON
(Dkron's job format); - reads stdin. Each job is printed as stored.
  -f, --file FILE   the JSON file`,
  delete: `clocktower jobs delete NAME

Deletes the job NAME and its history (refused while it has child jobs).`,
  run: `clocktower jobs run NAME [--param KEY=VALUE ...]

Runs the job NAME now, once, whatever its schedule (also when disabled or paused).
A workflow's root starts a run; its id is printed.
  --param KEY=VALUE  a run parameter, over the job's defaults (repeatable)`,
  toggle: `clocktower jobs toggle NAME

Disables the job NAME if it is enabled, enables it if disabled.`,
  executions: `clocktower jobs executions NAME [--json]

Lists the job's executions, newest first: id, times, state, exit code, node,
attempt and the last line of output.
  --json            print the executions as the API returns them (full output)`,
  stop: `clocktower jobs stop NAME EXECUTION_ID

Stops a running execution (its whole process tree, on whichever node runs it);
it is recorded as stopped.`,
  history: `clocktower jobs history NAME [--version N] [--json]

Lists the recorded versions of the job NAME, newest first: version, time, who
and the change; --version N prints that version's job.
  --version N       print version N's job as JSON
  --json            print the versions as the API returns them`,
  logs: `clocktower jobs logs NAME [EXECUTION_ID] [-f]

Prints the output of an execution of the job NAME (the newest if no
EXECUTION_ID is given). With -f, follows it while it runs, as the server
streams it, until the execution ends; the exit status is then 0 if it
succeeded and 1 if not. Truncation (output longer than the server keeps)
is said on stderr.
  -f, --follow      follow the output while the execution runs`,
  rollback: `clocktower jobs rollback NAME VERSION

Saves version VERSION of the job NAME as its new current version (a rollback
is itself a new version).`,
};

function jobsHelp(): string {
  return `Usage: clocktower jobs <command> [flags]\n\n${Object.values(usage).map((u) => `  ${u.split('\n')[0] ?? ''}`).join('\n')}\n\nclocktower jobs <command> --help describes a command and its flags.\n\n${clientFlags}\n`;
}

function commandHelp(sub: string): string {
  return `Usage: ${usage[sub] ?? ''}\n\n${clientFlags}\n`;
}

/** The last non-empty line of an output, cut to `max` characters. */
function lastLine(output: unknown, max = 60): string {
  if (typeof output !== 'string') return '';
  const lines = output.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
  const line = lines.at(-1) ?? '';
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
}

class UsageError extends Error {}
class ApiFailure extends Error {}

export async function runClient(argv: string[], io: ClientIo): Promise<number> {
  const [command, sub, ...rest] = argv;
  try {
    if (command === 'version') {
      if (sub === '--help' || sub === '-h') return say(io, 'Usage: clocktower version   (also clocktower --version)\n\nPrints the version of this executable.\n');
      return say(io, `clocktower ${packageVersion()}\n`);
    }
    if (command === 'jobs') return await jobs(sub, rest, io);
    if (command === 'runs') return await runs(sub, rest, io);
    if (command === 'acl') {
      return await aclCommand(argv.slice(1), {
        stdout: (t) => io.stdout(t),
        api: (values, method, path, body) => {
          const v = values as { address?: string; 'api-token'?: string; 'tls-ca'?: string; 'tls-cert'?: string; 'tls-key'?: string };
          const tls = clientTls(v, io.env);
          return client(v.address ?? io.env['CLOCKTOWER_ADDRESS'] ?? defaultAddress(tls), v['api-token'] ?? io.env['CLOCKTOWER_API_TOKEN'], tls)(method, path, body);
        },
        table,
        usageError: (m) => new UsageError(m),
        commonOptions: common,
      }, clientFlags);
    }
    if (command === 'tls') {
      try {
        return tlsCommand(argv.slice(1), (s) => io.stdout(s));
      } catch (err) {
        if (err instanceof TlsUsageError) {
          io.stderr(`error: ${err.message}\n\n${tlsUsage}`);
          return 2;
        }
        throw err;
      }
    }
    if (command === 'raft' || command === 'leave') {
      return await clusterCommand(command, sub, rest, {
        stdout: (t) => io.stdout(t),
        api: (address, token, method, path) => {
          const tls = clientTls({}, io.env);
          return client(address ?? io.env['CLOCKTOWER_ADDRESS'] ?? defaultAddress(tls), clientToken(token, io.env), tls)(method, path);
        },
        table,
        usageError: (m) => new UsageError(m),
      });
    }
    throw new UsageError(`unknown command "${command ?? ''}"`);
  } catch (err) {
    if (err instanceof UsageError) {
      const help = command === 'jobs' ? (sub && usage[sub] ? commandHelp(sub) : jobsHelp())
        : command === 'runs' ? runsHelp()
        : command === 'raft' || command === 'leave' ? clusterHelp(command, sub)
          : command === 'acl' ? aclHelp(aclKey(argv.slice(1)), clientFlags)
          : topLevelHelp();
      io.stderr(`error: ${err.message}\n\n${help}`);
      return 2;
    }
    io.stderr(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

function say(io: ClientIo, text: string): number {
  io.stdout(text);
  return 0;
}

async function jobs(sub: string | undefined, argv: string[], io: ClientIo): Promise<number> {
  if (sub === undefined || sub === '--help' || sub === '-h') return say(io, jobsHelp());
  if (!usage[sub]) throw new UsageError(`unknown jobs command "${sub}"`);
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      // -f is --file everywhere but in logs, where it is --follow (as tail -f).
      args: sub === 'logs' ? argv.map((a) => (a === '-f' ? '--follow' : a)) : argv,
      options: { ...common, param: { type: 'string', multiple: true }, file: { type: 'string', short: 'f' }, follow: { type: 'boolean' }, q: { type: 'string' }, status: { type: 'string' }, metadata: { type: 'string', multiple: true }, version: { type: 'string' } },
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return say(io, commandHelp(sub));
  const tls = clientTls(values, io.env);
  const address = values.address ?? io.env['CLOCKTOWER_ADDRESS'] ?? defaultAddress(tls);
  const token = clientToken({ token: values['api-token'], file: values['api-token-file'] }, io.env);
  const api = client(address, token, tls);
  const name = () => {
    const n = positionals[0];
    if (!n) throw new UsageError('a job NAME is required');
    return encodeURIComponent(n);
  };
  switch (sub) {
    case 'list': {
      const q = new URLSearchParams();
      if (values.q) q.set('q', values.q);
      if (values.status) q.set('status', values.status);
      for (const m of values.metadata ?? []) {
        const eq = m.indexOf('=');
        if (eq < 1) throw new UsageError(`--metadata wants k=v, not "${m}"`);
        q.append(`metadata[${m.slice(0, eq)}]`, m.slice(eq + 1));
      }
      const list = (await api('GET', `/v1/jobs${q.size > 0 ? `?${q}` : ''}`)) as Record<string, unknown>[];
      if (values.json) return say(io, `${JSON.stringify(list, null, 2)}\n`);
      return say(io, table(['NAME', 'SCHEDULE', 'EXECUTOR', 'STATUS', 'DISABLED', 'NEXT', 'OK', 'FAILED'], list.map((j) => [
        j['name'], j['schedule'], j['executor'], j['status'] || 'untriggered', j['disabled'], j['next'] ?? '-', j['success_count'], j['error_count'],
      ])));
    }
    case 'get':
      return say(io, `${JSON.stringify(await api('GET', `/v1/jobs/${name()}`), null, 2)}\n`);
    case 'put': {
      if (!values.file) throw new UsageError('-f FILE is required');
      const text = readFileSync(values.file === '-' ? 0 : values.file, 'utf8');
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch (err) {
        throw new Error(`${values.file} is not valid JSON: ${(err as Error).message}`);
      }
      for (const job of Array.isArray(doc) ? doc : [doc]) {
        io.stdout(`${JSON.stringify(await api('POST', '/v1/jobs', job), null, 2)}\n`);
      }
      return 0;
    }
    case 'delete':
      await api('DELETE', `/v1/jobs/${name()}`);
      return say(io, `deleted ${positionals[0]}\n`);
    case 'run': {
      const parameters: Record<string, string> = {};
      for (const p of values.param ?? []) {
        const eq = p.indexOf('=');
        if (eq < 1) throw new UsageError(`--param wants KEY=VALUE, not "${p}"`);
        parameters[p.slice(0, eq)] = p.slice(eq + 1);
      }
      const path = `/v1/jobs/${name()}/run`;
      const answer = (await (Object.keys(parameters).length > 0 ? api('POST', path, { parameters }) : api('POST', path))) as { run_id?: string };
      // A workflow's root starts a run.
      return say(io, `started ${positionals[0]}${answer.run_id === undefined ? '' : ` (run ${answer.run_id})`}\n`);
    }
    case 'toggle': {
      const job = (await api('POST', `/v1/jobs/${name()}/toggle`)) as { disabled: boolean };
      return say(io, `${positionals[0]} is now ${job.disabled ? 'disabled' : 'enabled'}\n`);
    }
    case 'stop': {
      const id = positionals[1];
      if (!id) throw new UsageError('an EXECUTION_ID is required (see clocktower jobs executions NAME)');
      const e = (await api('POST', `/v1/jobs/${name()}/executions/${encodeURIComponent(id)}/stop`)) as { state?: string };
      return say(io, `stopping execution ${id} of ${positionals[0]}${e.state ? ` (${e.state})` : ''}\n`);
    }
    case 'history': {
      if (values.version !== undefined) {
        return say(io, `${JSON.stringify(await api('GET', `/v1/jobs/${name()}/versions/${encodeURIComponent(values.version)}`), null, 2)}\n`);
      }
      const list = (await api('GET', `/v1/jobs/${name()}/versions`)) as Record<string, unknown>[];
      if (values.json) return say(io, `${JSON.stringify(list, null, 2)}\n`);
      return say(io, table(['VERSION', 'AT', 'BY', 'CHANGE'], list.map((v) => [
        v['version'], v['at'], v['by'], v['restored_from'] === undefined ? v['change'] : `${String(v['change'])} of ${String(v['restored_from'])}`,
      ])));
    }
    case 'rollback': {
      const n = positionals[1];
      if (!n) throw new UsageError('a VERSION is required (see clocktower jobs history NAME)');
      await api('POST', `/v1/jobs/${name()}/versions/${encodeURIComponent(n)}/restore`);
      return say(io, `${positionals[0]} is version ${n} again\n`);
    }
    case 'logs': {
      let id = positionals[1];
      if (id === undefined) {
        const newest = (await api('GET', `/v1/jobs/${name()}/executions?_start=0&_end=1`)) as { id: string }[];
        if (!newest[0]) throw new Error(`job ${positionals[0] ?? ''} has no executions yet`);
        id = newest[0].id;
      }
      const path = `/v1/jobs/${name()}/executions/${encodeURIComponent(id)}`;
      if (values.follow !== true) {
        const e = (await api('GET', path)) as { output: string; output_truncated: boolean };
        if (e.output_truncated) io.stderr('(output truncated: only its end is kept)\n');
        io.stdout(e.output);
        return 0;
      }
      let result: { state?: string } | null = null;
      await streamEvents(address, token, tls, `${path}/stream`, (event, data) => {
        if (event === 'output') io.stdout(JSON.parse(data) as string);
        else if (event === 'truncated') io.stderr(`(output truncated: ${(JSON.parse(data) as { reason?: string }).reason ?? 'some was dropped'})\n`);
        else if (event === 'done') result = JSON.parse(data) as { state?: string };
        else if (event === 'error') throw new ApiFailure((JSON.parse(data) as { error?: { message?: string } }).error?.message ?? data);
      });
      const done = result as { state?: string } | null;
      if (!done) throw new ApiFailure(`the stream of execution ${id} ended before its result`);
      io.stderr(`(execution ${id} ${done.state ?? 'ended'})\n`);
      return done.state === 'succeeded' ? 0 : 1;
    }
    case 'executions': {
      const list = (await api('GET', `/v1/jobs/${name()}/executions`)) as Record<string, unknown>[];
      if (values.json) return say(io, `${JSON.stringify(list, null, 2)}\n`);
      return say(io, table(['ID', 'SCHEDULED', 'STARTED', 'FINISHED', 'STATE', 'EXIT', 'NODE', 'ATTEMPT', 'OUTPUT'], list.map((e) => [
        e['id'], e['scheduled_at'], e['started_at'] ?? '-', e['finished_at'] ?? '-', e['state'], e['exit_code'] ?? '-', e['node_name'] || '-', e['attempt'],
        lastLine(e['output']) || (typeof e['error'] === 'string' ? lastLine(e['error']) : ''),
      ])));
    }
  }
  return 0;
}

const runsUsage = `Usage: clocktower runs <command> [flags]

  list [--job J] [--state S] [--json]
                   runs, newest first (J: the root or any task; S: running, succeeded, failed, stopped)
  get ID           the run and its tasks as JSON
  stop ID          stop the run: running tasks are killed, waiting ones recorded stopped
  restart ID       run a finished run again: its failed, stopped and never-started tasks; succeeded ones are kept

${clientFlags}
`;

function runsHelp(): string {
  return runsUsage;
}

async function runs(sub: string | undefined, argv: string[], io: ClientIo): Promise<number> {
  if (sub === undefined || sub === '--help' || sub === '-h') return say(io, runsHelp());
  if (!['list', 'get', 'stop', 'restart'].includes(sub)) throw new UsageError(`unknown runs command "${sub}"`);
  let parsed;
  try {
    parsed = parseArgs({ allowPositionals: true, args: argv, options: { ...common, job: { type: 'string' }, state: { type: 'string' } }, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return say(io, runsHelp());
  const tls = clientTls(values, io.env);
  const address = values.address ?? io.env['CLOCKTOWER_ADDRESS'] ?? defaultAddress(tls);
  const api = client(address, clientToken({ token: values['api-token'], file: values['api-token-file'] }, io.env), tls);
  if (sub === 'list') {
    const q = new URLSearchParams();
    if (values.job) q.set('job', values.job);
    if (values.state) q.set('state', values.state);
    const list = (await api('GET', `/v1/runs${q.size > 0 ? `?${q}` : ''}`)) as Record<string, unknown>[];
    if (values.json) return say(io, `${JSON.stringify(list, null, 2)}\n`);
    return say(io, table(['ID', 'ROOT', 'STATE', 'CREATED', 'FINISHED', 'TASKS'], list.map((r) => {
      const tasks = (r['tasks'] ?? []) as { state: string }[];
      const done = tasks.filter((x) => !['waiting', 'pending', 'running'].includes(x.state)).length;
      return [r['id'], r['root_job'], r['state'], r['created_at'], r['finished_at'] ?? '-', `${done}/${tasks.length}`];
    })));
  }
  const id = positionals[0];
  if (!id) throw new UsageError('a run ID is required (see clocktower runs list)');
  const path = `/v1/runs/${encodeURIComponent(id)}`;
  if (sub === 'get') return say(io, `${JSON.stringify(await api('GET', path), null, 2)}\n`);
  const run = (await api('POST', `${path}/${sub}`)) as { state?: string };
  return say(io, `${sub === 'stop' ? 'stopped' : 'restarted'} run ${id}${run.state ? ` (${run.state})` : ''}\n`);
}

/**
 * The token to send: --api-token, else the file of --api-token-file, else
 * CLOCKTOWER_API_TOKEN, else the file of CLOCKTOWER_API_TOKEN_FILE.
 */
export function clientToken(given: { token?: string | undefined; file?: string | undefined }, env: Record<string, string | undefined>): string | undefined {
  if (given.token !== undefined && given.file !== undefined) throw new UsageError('give --api-token or --api-token-file, not both');
  if (given.token !== undefined) return given.token;
  if (given.file !== undefined) return readTokenFile(given.file);
  const fromEnv = env['CLOCKTOWER_API_TOKEN'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const file = env['CLOCKTOWER_API_TOKEN_FILE'];
  return file !== undefined && file !== '' ? readTokenFile(file, 'CLOCKTOWER_API_TOKEN_FILE') : undefined;
}

/** --tls-* flags, else CLOCKTOWER_TLS_* from the environment; all three or none. */
function clientTls(values: { 'tls-ca'?: string | undefined; 'tls-cert'?: string | undefined; 'tls-key'?: string | undefined }, env: Record<string, string | undefined>): TlsFiles | null {
  const ca = values['tls-ca'] ?? env['CLOCKTOWER_TLS_CA'];
  const cert = values['tls-cert'] ?? env['CLOCKTOWER_TLS_CERT'];
  const key = values['tls-key'] ?? env['CLOCKTOWER_TLS_KEY'];
  if (!ca && !cert && !key) return null;
  if (!ca || !cert || !key) throw new UsageError('TLS needs all three of --tls-ca, --tls-cert and --tls-key (or CLOCKTOWER_TLS_CA, _CERT, _KEY)');
  return { ca: resolve(ca), cert: resolve(cert), key: resolve(key) };
}

function defaultAddress(tls: TlsFiles | null): string {
  return `${tls ? 'https' : 'http'}://127.0.0.1:8080`;
}

function client(address: string, token: string | undefined, tls: TlsFiles | null = null) {
  const base = address.replace(/\/+$/, '');
  const dispatcher = tls ? new Agent({ connect: tlsClientOptions(tls) }) : undefined;
  return async (method: string, path: string, body?: unknown): Promise<unknown> => {
    let res;
    try {
      res = await request(base + path, {
        ...(dispatcher ? { dispatcher } : {}),
        method: method as 'GET',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      const e = err as Error & { code?: string };
      throw new ApiFailure(`cannot reach the Clocktower API at ${address}: is the server running? (${e.code ?? e.message})`);
    }
    const text = await res.body.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    if (res.statusCode >= 400) {
      const err = (parsed as { error?: { message?: string; field?: string } } | null)?.error;
      throw new ApiFailure(err?.message ? `${err.message}${err.field ? ` (field: ${err.field})` : ''}` : `HTTP ${res.statusCode}: ${text}`);
    }
    return parsed;
  };
}

/** Read a server-sent-events answer to its end, calling `onEvent` for each event. */
async function streamEvents(address: string, token: string | undefined, tls: TlsFiles | null, path: string, onEvent: (event: string, data: string) => void): Promise<void> {
  const dispatcher = tls ? new Agent({ connect: tlsClientOptions(tls) }) : undefined;
  let res;
  try {
    res = await request(address.replace(/\/+$/, '') + path, {
      ...(dispatcher ? { dispatcher } : {}),
      headers: { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });
  } catch (err) {
    const e = err as Error & { code?: string };
    throw new ApiFailure(`cannot reach the Clocktower API at ${address}: is the server running? (${e.code ?? e.message})`);
  }
  if (res.statusCode >= 400) {
    const text = await res.body.text();
    let message = `HTTP ${res.statusCode}: ${text}`;
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
    } catch {
      // not JSON
    }
    throw new ApiFailure(message);
  }
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length > 0) onEvent(event, data.join('\n'));
    }
  }
  await dispatcher?.close();
}

function table(head: string[], rows: unknown[][]): string {
  const cells = [head, ...rows.map((r) => r.map((c) => String(c ?? '')))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n') + '\n';
}
