// Starts a real one-member etcd (Debian's etcd-server) on free 127.0.0.1
// ports in a temporary data directory; stop() ends it and removes the data;
// kill() and restart() take it away and bring it back with its data.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
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

/** TLS on etcd's client URL: its certificate and key, and (clientCertAuth) the CA client certificates must be signed by. */
export interface EtcdTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  /** For the health probe: a client certificate and key signed by `ca`. */
  readonly clientCert: string;
  readonly clientKey: string;
}

/** `args`: more flags for etcd (e.g. a small `--max-request-bytes`). */
export async function startEtcd(deadlineMs = 20_000, tls?: EtcdTls, args: readonly string[] = []): Promise<EtcdServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ct-etcd-'));
  const [client, peer] = [await freePort(), await freePort()];
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${client}`;
  const peerUrl = `http://127.0.0.1:${peer}`;
  let current = await spawnEtcd(dir, url, peerUrl, deadlineMs, 'e1', undefined, tls, args).catch((err: unknown) => {
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
      current = await spawnEtcd(dir, url, peerUrl, deadlineMs, 'e1', undefined, tls, args);
    },
    async stop() {
      await current.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function spawnEtcd(dir: string, url: string, peerUrl: string, deadlineMs: number, name = 'e1', initialCluster = `${name}=${peerUrl}`, tls?: EtcdTls, args: readonly string[] = []): Promise<{ log(): string; kill(): Promise<void> }> {
  const child = spawn(etcdProgram, [
    '--name', name, '--data-dir', join(dir, 'data'),
    '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', initialCluster, '--initial-cluster-state', 'new',
    ...(tls ? ['--cert-file', tls.cert, '--key-file', tls.key, '--trusted-ca-file', tls.ca, '--client-cert-auth'] : []),
    ...args,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  const dispatcher = tls
    ? new Agent({ connect: { ca: readFileSync(tls.ca), cert: readFileSync(tls.clientCert), key: readFileSync(tls.clientKey) } })
    : undefined;
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
      const res = await request(`${url}/health`, dispatcher ? { dispatcher } : {}).catch(() => null);
      if (!res) return undefined;
      const body = await res.body.text();
      return res.statusCode === 200 && body.includes('true') ? true : undefined;
    }, deadlineMs);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  } finally {
    await dispatcher?.close();
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

export interface EtcdCluster {
  /** Every member's client URL. */
  readonly urls: readonly string[];
  /** kill -9 one member (keeping its data). */
  kill(i: number): Promise<void>;
  stop(): Promise<void>;
}

/** A cluster of `size` etcd members on free loopback ports. */
export async function startEtcdCluster(size: number, deadlineMs = 30_000): Promise<EtcdCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'ct-etcd-cluster-'));
  const members: { name: string; url: string; peerUrl: string }[] = [];
  for (let i = 0; i < size; i++) members.push({ name: `e${i}`, url: `http://127.0.0.1:${await freePort()}`, peerUrl: `http://127.0.0.1:${await freePort()}` });
  const initial = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const running = await Promise.all(members.map((m) => spawnEtcd(join(dir, m.name), m.url, m.peerUrl, deadlineMs, m.name, initial))).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    urls: members.map((m) => m.url),
    async kill(i) {
      await running[i]?.kill();
    },
    async stop() {
      for (const r of running) await r.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A CA, a certificate for etcd on 127.0.0.1 and a client certificate, made
 * with openssl in `dir`; the client files are what a server passes as
 * --etcd-cert/--etcd-key, and `otherCa` is a CA that signed none of them.
 */
export function makeEtcdCerts(dir: string): EtcdTls & { otherCa: string } {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  for (const ca of ['ca', 'other-ca']) {
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${ca}`, '-keyout', `${ca}-key.pem`, '-out', `${ca}.pem`);
  }
  const sign = (name: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
  };
  sign('etcd', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  sign('client', 'extendedKeyUsage=clientAuth\n');
  const f = (n: string) => join(dir, n);
  return { ca: f('ca.pem'), cert: f('etcd.pem'), key: f('etcd-key.pem'), clientCert: f('client.pem'), clientKey: f('client-key.pem'), otherCa: f('other-ca.pem') };
}
