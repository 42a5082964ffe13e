// Starts a real RabbitMQ broker as a private node: its own node name, AMQP,
// distribution and epmd ports (free 127.0.0.1 ports), data, logs, config and
// Erlang cookie in a temp dir, no plugins. It is ready when an AMQP login
// succeeds (polled with a deadline); stop() ends it and its epmd and removes
// the dir. It takes seconds to start, so start one per test file.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { freePort } from './free-port.js';

/**
 * The broker's start script. Debian's /usr/sbin/rabbitmq-server is a wrapper
 * that re-runs the real script as the rabbitmq user (with its own HOME and
 * working dir); the real script runs as whoever we are, which is what a
 * private node in a temp dir needs.
 */
export const rabbitmqServerProgram = process.env['RABBITMQ_SERVER']
  ?? ['/usr/lib/rabbitmq/bin/rabbitmq-server', '/usr/sbin/rabbitmq-server'].find((p) => existsSync(p))
  ?? 'rabbitmq-server';
const epmdProgram = process.env['EPMD'] ?? 'epmd';

export interface RabbitmqServerOptions {
  readonly user?: string;
  readonly pass?: string;
  /** How long the broker may take to accept a login (default 120 s). */
  readonly deadlineMs?: number;
}

export interface RabbitmqServer {
  /** amqp://USER:PASS@127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly user: string;
  readonly pass: string;
  /** Runs rabbitmqctl against this node (e.g. close_all_connections). */
  ctl(args: string[]): Promise<string>;
  log(): string;
  stop(): Promise<void>;
}


function exitOf(child: ChildProcess, what: string): Promise<string> {
  return new Promise<string>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(`${what} exited (${child.signalCode ?? child.exitCode})`);
    child.once('error', (err) => resolve(`could not start ${what}: ${err.message}`));
    child.once('exit', (code, signal) => resolve(`${what} exited (${signal ?? code})`));
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Waits for `exited`, escalating to SIGKILL of the whole group after `graceMs`. */
async function stopGroup(child: ChildProcess, exited: Promise<string>, graceMs: number): Promise<void> {
  killGroup(child, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((r) => (timer = setTimeout(r, graceMs)));
  await Promise.race([exited, late]).finally(() => clearTimeout(timer));
  killGroup(child, 'SIGKILL');
  await exited;
}

export async function startRabbitmqServer(options: RabbitmqServerOptions = {}): Promise<RabbitmqServer> {
  const user = options.user ?? 'clocktower';
  const pass = options.pass ?? 'clocktower-secret';
  const deadlineMs = options.deadlineMs ?? 120_000;
  const dir = mkdtempSync(join(tmpdir(), 'ct-rabbitmq-'));
  const [port, distPort, epmdPort] = [await freePort(), await freePort(), await freePort()];
  const node = `ct${randomBytes(4).toString('hex')}@localhost`;
  writeFileSync(join(dir, 'rabbitmq.conf'), [
    `listeners.tcp.default = 127.0.0.1:${port}`,
    `default_user = ${user}`,
    `default_pass = ${pass}`,
    'loopback_users = none',
    // A test machine's disk may be fuller than the default 50MB margin allows.
    'disk_free_limit.absolute = 1',
    '',
  ].join('\n'));
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  writeFileSync(join(dir, 'rabbitmq-env.conf'), '');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: dir, // the Erlang cookie goes here
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_LOGS: '-', // to stdout, which we keep for error messages
    // Two schedulers and no busy-waiting: the machine is shared.
    RABBITMQ_SERVER_START_ARGS: '+S 2:2 +sbwt none +sbwtdcpu none +sbwtdio none',
  };

  // A private epmd, so the node name and ports never meet another node's.
  const epmd = spawn(epmdProgram, ['-port', String(epmdPort), '-address', '127.0.0.1'], { stdio: 'ignore', detached: true });
  const epmdExited = exitOf(epmd, 'epmd');
  let log = '';
  const broker = spawn(rabbitmqServerProgram, [], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  broker.stdout?.on('data', (c: Buffer) => (log += c.toString()));
  broker.stderr?.on('data', (c: Buffer) => (log += c.toString()));
  const brokerExited = exitOf(broker, 'rabbitmq-server');
  // If the test process dies without its teardown, take the broker along.
  const onExit = () => { killGroup(broker, 'SIGKILL'); killGroup(epmd, 'SIGKILL'); };
  process.once('exit', onExit);

  const stop = async () => {
    await stopGroup(broker, brokerExited, 30_000);
    await stopGroup(epmd, epmdExited, 5_000);
    process.removeListener('exit', onExit);
    rmSync(dir, { recursive: true, force: true });
  };

  const url = `amqp://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@127.0.0.1:${port}`;
  try {
    await waitForLogin(url, brokerExited, deadlineMs, () => log);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    port,
    user,
    pass,
    ctl: (args) => rabbitmqctl(env, node, args),
    log: () => log,
    stop,
  };
}

async function waitForLogin(url: string, exited: Promise<string>, deadlineMs: number, log: () => string): Promise<void> {
  let gone: string | null = null;
  void exited.then((how) => (gone = how));
  const deadline = performance.now() + deadlineMs;
  let last = '';
  for (;;) {
    if (gone) throw new Error(`${gone} before it accepted a login:\n${log()}`);
    try {
      const conn = await amqp.connect(url, { timeout: 2000 });
      await conn.close();
      return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (performance.now() > deadline) throw new Error(`RabbitMQ accepted no login within ${deadlineMs} ms (last: ${last}):\n${log()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function rabbitmqctl(env: NodeJS.ProcessEnv, node: string, args: string[]): Promise<string> {
  const ctl = rabbitmqServerProgram.replace(/rabbitmq-server$/, 'rabbitmqctl');
  return new Promise((resolve, reject) => {
    const child = spawn(ctl, ['-n', node, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`rabbitmqctl ${args.join(' ')} exited with ${code}:\n${out}`))));
  });
}
