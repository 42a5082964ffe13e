// Starts `clocktower light` as a real process on a free port and talks to it.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';

export const mainJs = resolve('dist/bin/main.js');

export interface LightProcess {
  readonly url: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Everything the process wrote to stderr so far. */
  log(): string;
  kill9(): Promise<void>;
  stop(): Promise<number | null>;
}

export function tempDir(prefix = 'ct-e2e-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** `launcher`: a command that runs node with the arguments after it (e.g. prlimit with limits). */
export async function startLight(dataDir: string, extraArgs: string[] = [], env: Record<string, string> = {}, launcher: string[] = []): Promise<LightProcess> {
  const args = [mainJs, 'light', '--data-dir', dataDir, '--http-addr', '127.0.0.1:0', '--node-name', 'node1', ...extraArgs];
  const [file = process.execPath, ...before] = launcher;
  return startServerProgram(file, launcher.length > 0 ? [...before, process.execPath, ...args] : args, { ...process.env, ...env }, dataDir);
}

/**
 * Starts any program that serves the API and logs "API on URL" (light mode, a
 * server), with exactly `env`, and waits for it to listen.
 */
export async function startServerProgram(program: string, args: string[], env: Record<string, string | undefined>, dataDir: string, cwd?: string): Promise<LightProcess> {
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], env, ...(cwd === undefined ? {} : { cwd }) });
  let stderr = '';
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const url = await new Promise<string>((res, rej) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const m = /API on (http:\/\/[^\s",]+)/.exec(stderr);
      if (m?.[1]) res(m[1]);
    });
    void exited.then((code) => rej(new Error(`${args.includes('light') ? 'clocktower light' : program} exited with ${String(code)} before it listened:\n${stderr}`)));
  });
  return {
    url,
    dataDir,
    child,
    log: () => stderr,
    kill9: async () => {
      child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  text: string;
}

export async function call(url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await request(url + path, {
    method: method as 'GET',
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body) }),
  });
  const text = await res.body.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.statusCode, headers: res.headers, body: parsed, text };
}

/** Poll `probe` until it returns a value other than undefined, or fail after `ms`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let delay = 10;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 200);
  }
}

export interface ExecutionJson {
  id: string;
  job_name: string;
  started_at: string | null;
  finished_at: string | null;
  scheduled_at: string;
  success: boolean;
  state: string;
  output: string;
  output_truncated: boolean;
  node_name: string;
  attempt: number;
  group: string;
  error: string;
  error_code: string;
  trigger: string;
}

export async function executions(url: string, job: string): Promise<ExecutionJson[]> {
  const a = await call(url, 'GET', `/v1/jobs/${job}/executions`);
  if (a.status !== 200) throw new Error(`executions of ${job}: ${a.status} ${a.text}`);
  return a.body as ExecutionJson[];
}
