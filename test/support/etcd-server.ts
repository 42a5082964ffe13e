// Starts a real one-member etcd (Debian's etcd-server) on free 127.0.0.1
// ports in a temporary data directory; stop() ends it and removes the data;
// kill() and restart() take it away and bring it back with its data.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { freePort } from './free-port.js';
import { until } from './light-process.js';

export const etcdProgram = process.env['ETCD'] ?? '/usr/bin/etcd';

export interface EtcdServer {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  log(): string;
  /** kill -9, keeping the data directory. */
  kill(): Promise<void>;
  /** Start it again on the same ports and data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startEtcd(deadlineMs = 20_000): Promise<EtcdServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ct-etcd-'));
  const [client, peer] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  let current = await spawnEtcd(dir, url, peerUrl, deadlineMs).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    url,
    log: () => current.log(),
    async kill() {
      await current.kill();
    },
    async restart() {
      await current.kill();
      current = await spawnEtcd(dir, url, peerUrl, deadlineMs);
    },
    async stop() {
      await current.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function spawnEtcd(dir: string, url: string, peerUrl: string, deadlineMs: number): Promise<{ log(): string; kill(): Promise<void> }> {
  const child = spawn(etcdProgram, [
    '--name', 'e1', '--data-dir', join(dir, 'data'),
    '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', `e1=${peerUrl}`, '--initial-cluster-state', 'new',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => { log += chunk.toString(); });
  let exitedHow: string | null = null;
  const exited = new Promise<void>((resolve) => {
    child.once('error', (err) => { exitedHow = `could not start ${etcdProgram}: ${err.message}`; resolve(); });
    child.once('exit', (code, signal) => { exitedHow = `${etcdProgram} exited (${signal ?? code})`; resolve(); });
  });
  try {
    await until('etcd to be healthy', async () => {
      if (exitedHow !== null) throw new Error(`${exitedHow}:\n${log}`);
      const res = await request(`${url}/health`).catch(() => null);
      if (!res) return undefined;
      const body = await res.body.text();
      return res.statusCode === 200 && body.includes('true') ? true : undefined;
    }, deadlineMs);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }
  return {
    log: () => log,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
