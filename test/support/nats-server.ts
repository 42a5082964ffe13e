// Starts a real nats-server on free 127.0.0.1 ports (the server picks them:
// -p -1, -m -1) and reads them from its log; stop() ends it. Optionally with
// user/password or token authentication, or a configuration file.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';

export const natsServerProgram = process.env['NATS_SERVER'] ?? '/usr/sbin/nats-server';

export interface NatsServerOptions {
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
  /** A server configuration file's text (e.g. users with permissions). */
  readonly config?: string;
}

export interface NatsServer {
  /** nats://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** Number of client connections the server holds (from its monitoring endpoint). */
  connections(): Promise<number>;
  log(): string;
  stop(): Promise<void>;
}

export async function startNatsServer(options: NatsServerOptions = {}, deadlineMs = 20_000): Promise<NatsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ct-nats-'));
  const args = ['-a', '127.0.0.1', '-p', '-1', '-m', '-1', '-P', join(dir, 'nats.pid')];
  if (options.user !== undefined) args.push('--user', options.user, '--pass', options.pass ?? '');
  if (options.token !== undefined) args.push('--auth', options.token);
  if (options.config !== undefined) {
    writeFileSync(join(dir, 'nats.conf'), options.config);
    args.push('-c', join(dir, 'nats.conf'));
  }
  const child = spawn(natsServerProgram, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const exited = new Promise<string>((resolve) => {
    child.once('error', (err) => resolve(`could not start ${natsServerProgram}: ${err.message}`));
    child.once('exit', (code, signal) => resolve(`${natsServerProgram} exited (${signal ?? code})`));
  });
  let timer: NodeJS.Timeout | undefined;
  const ports = await Promise.race([
    new Promise<{ client: number; monitor: number }>((resolve) => {
      child.stderr.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        const client = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(log)?.[1];
        const monitor = /Starting http monitor on 127\.0\.0\.1:(\d+)/.exec(log)?.[1];
        if (client && monitor && log.includes('Server is ready')) resolve({ client: Number(client), monitor: Number(monitor) });
      });
    }),
    exited.then((how) => { throw new Error(`${how} before it was ready:\n${log}`); }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`nats-server was not ready within ${deadlineMs} ms:\n${log}`)), deadlineMs);
    }),
  ]).catch((err: unknown) => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }).finally(() => clearTimeout(timer));
  return {
    url: `nats://127.0.0.1:${ports.client}`,
    port: ports.client,
    async connections() {
      const res = await request(`http://127.0.0.1:${ports.monitor}/connz`);
      const body = (await res.body.json()) as { num_connections: number };
      return body.num_connections;
    },
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
