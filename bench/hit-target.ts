// The local HTTP target of the lateness benchmarks (fixtures/hit-target.ts),
// in its own process: it records when each request arrives.

import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { request } from 'undici';

export interface Target {
  child: ChildProcess;
  url: string;
  /** Take the recorded hits: [path, arrival epoch ms]. */
  take(): Promise<[string, number][]>;
}

export async function startTarget(): Promise<Target> {
  const child = spawn(process.execPath, [resolve('dist/bench/fixtures/hit-target.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((res) => child.stdout.once('data', (c: Buffer) => res(c.toString().trim())));
  const url = `http://127.0.0.1:${port}`;
  return {
    child,
    url,
    take: async () => (await (await request(`${url}/__hits`)).body.json()) as [string, number][],
  };
}
