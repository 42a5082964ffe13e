// Start and drive a `clocktower light` process for benchmarks.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { request } from 'undici';

export interface BenchServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

/** Node flags for the server process, space-separated (e.g. BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it). */
const nodeFlags = (process.env['BENCH_NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== '');

export async function startBenchServer(dataDir: string, extra: string[] = []): Promise<BenchServer> {
  const child = spawn(process.execPath, ['--expose-gc', ...nodeFlags, resolve('dist/bin/main.js'), 'light', '--data-dir', dataDir, '--http-addr', '127.0.0.1:0', ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  let log = '';
  const url = await new Promise<string>((res, rej) => {
    child.stderr.on('data', (c: Buffer) => {
      log += c.toString();
      const m = /API on (http:\/\/\S+)/.exec(log);
      if (m?.[1]) res(m[1]);
    });
    void exited.then(() => rej(new Error(`server exited:\n${log}`)));
  });
  return {
    url,
    pid: child.pid ?? 0,
    stop: async () => { child.kill('SIGTERM'); await exited; },
    kill9: async () => { child.kill('SIGKILL'); await exited; },
  };
}

export async function api(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await request(url + path, {
    method: method as 'GET',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  let json: unknown = text;
  try { json = JSON.parse(text); } catch { /* text */ }
  if (res.statusCode >= 400) throw new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 300)}`);
  return { status: res.statusCode, json };
}

/** Resident set size of a process, in MB (Linux). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m?.[1] ? Number(m[1]) / 1024 : Number.NaN;
}
