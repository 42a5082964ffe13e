// Starts `clocktower agent --server` processes on loopback, on free ports,
// and finds the leader.

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { call, mainJs, until } from './light-process.js';
import { freePort } from './free-port.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';

export interface ServerProcess {
  readonly name: string;
  readonly url: string;
  readonly rpcAddr: string;
  readonly httpAddr: string;
  readonly dataDir: string;
  child: ChildProcess;
  log(): string;
  kill9(): Promise<void>;
  stop(): Promise<number | null>;
  exited(): Promise<number | null>;
}


export interface ServerSpec {
  readonly name: string;
  readonly rpcAddr: string;
  readonly httpAddr: string;
  readonly dataDir: string;
  readonly args: readonly string[];
}

export async function serverSpecs(root: string, names: readonly string[]): Promise<ServerSpec[]> {
  const specs: { name: string; rpcAddr: string; httpAddr: string; dataDir: string }[] = [];
  for (const name of names) {
    specs.push({ name, rpcAddr: `127.0.0.1:${await freePort()}`, httpAddr: `127.0.0.1:${await freePort()}`, dataDir: join(root, name) });
  }
  return specs.map((s) => ({
    ...s,
    args: ['--bootstrap-expect', String(names.length), ...specs.filter((o) => o !== s).flatMap((o) => ['--join', o.rpcAddr])],
  }));
}

/** How to start `clocktower`: the program, the arguments before the command, and the environment. */
export interface Launcher {
  readonly command: string;
  readonly prefix: readonly string[];
  readonly env?: Record<string, string | undefined>;
  readonly cwd?: string;
}

/** node dist/bin/main.js */
export const nodeLauncher: Launcher = { command: process.execPath, prefix: [mainJs] };

/** Start (or restart) one server; resolves once its API listens. */
export async function startServerProcess(spec: ServerSpec, extra: readonly string[] = [], launcher: Launcher = nodeLauncher): Promise<ServerProcess> {
  const child = spawn(launcher.command, [...launcher.prefix, 'agent', '--server', '--node-name', spec.name, '--data-dir', spec.dataDir,
    '--rpc-addr', spec.rpcAddr, '--http-addr', spec.httpAddr, ...spec.args, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'], env: launcher.env ?? process.env, ...(launcher.cwd === undefined ? {} : { cwd: launcher.cwd }),
  });
  let stderr = '';
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  await new Promise<void>((res, rej) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (/API on http/.test(stderr)) res();
    });
    void exited.then((code) => rej(new Error(`server ${spec.name} exited with ${String(code)} before it listened:\n${stderr}`)));
  });
  return {
    name: spec.name, url: `http://${spec.httpAddr}`, rpcAddr: spec.rpcAddr, httpAddr: spec.httpAddr, dataDir: spec.dataDir, child,
    log: () => stderr,
    kill9: async () => { child.kill('SIGKILL'); await exited; },
    stop: async () => { child.kill('SIGTERM'); return exited; },
    exited: () => exited,
  };
}

/** The leader every listed server agrees on. */
export async function agreedLeader(servers: readonly ServerProcess[], ms = 20_000): Promise<ServerProcess> {
  return until('the servers to agree on a leader', async () => {
    const names = await Promise.all(servers.map(async (s) => {
      const a = await call(s.url, 'GET', '/v1/leader').catch(() => null);
      return a?.status === 200 ? (a.body as { Name: string }).Name : null;
    }));
    const first = names[0];
    if (!first || names.some((n) => n !== first)) return undefined;
    const leader = servers.find((s) => s.name === first);
    if (!leader) return undefined;
    const is = await call(leader.url, 'GET', '/v1/isleader').catch(() => null);
    return is?.status === 200 ? leader : undefined;
  }, ms);
}

/**
 * Specs for servers whose Raft ports sit behind a fault proxy each: every
 * server advertises and is joined through its proxy, so blocking a proxy
 * cuts that server off from the others.
 */
export async function proxiedServerSpecs(root: string, names: readonly string[]): Promise<{ specs: ServerSpec[]; proxies: Map<string, FaultProxy> }> {
  const proxies = new Map<string, FaultProxy>();
  const base: { name: string; rpcAddr: string; httpAddr: string; dataDir: string }[] = [];
  for (const name of names) {
    const rpcAddr = `127.0.0.1:${await freePort()}`;
    proxies.set(name, await startFaultProxy(rpcAddr));
    base.push({ name, rpcAddr, httpAddr: `127.0.0.1:${await freePort()}`, dataDir: join(root, name) });
  }
  const via = (name: string) => proxies.get(name)?.address ?? '';
  const specs = base.map((b) => ({
    ...b,
    args: ['--bootstrap-expect', String(names.length), '--advertise-rpc-addr', via(b.name), ...base.filter((o) => o !== b).flatMap((o) => ['--join', via(o.name)])],
  }));
  return { specs, proxies };
}
