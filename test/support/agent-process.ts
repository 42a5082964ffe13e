// Starts `clocktower agent --join ...` (an agent without a server) as a real
// process; resolves once it has registered with a leader.

import { spawn, type ChildProcess } from 'node:child_process';
import { mainJs } from './light-process.js';

export interface AgentProcess {
  readonly name: string;
  child: ChildProcess;
  log(): string;
  /** Resolves when the log has matched `pattern` (from now on, or already). */
  waitLog(pattern: RegExp, ms?: number): Promise<void>;
  kill9(): Promise<void>;
  stop(): Promise<number | null>;
  exited(): Promise<number | null>;
}

export async function startAgentProcess(name: string, join: readonly string[], tags: Record<string, string>, extra: readonly string[] = [], env: Record<string, string> = {}): Promise<AgentProcess> {
  const args = [mainJs, 'agent', '--node-name', name, ...join.flatMap((j) => ['--join', j]),
    ...Object.entries(tags).flatMap(([k, v]) => ['--tag', `${k}=${v}`]), ...extra];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const l of listeners) l();
  });
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const waitLog = (pattern: RegExp, ms = 20_000) => new Promise<void>((resolve, reject) => {
    const check = () => {
      if (!pattern.test(stderr)) return;
      cleanup();
      resolve();
    };
    const timer = setTimeout(() => { cleanup(); reject(new Error(`agent ${name}: no ${String(pattern)} within ${ms} ms:\n${stderr}`)); }, ms);
    const cleanup = () => { clearTimeout(timer); listeners.delete(check); };
    listeners.add(check);
    void exited.then((code) => { if (listeners.has(check)) { cleanup(); reject(new Error(`agent ${name} exited with ${String(code)}:\n${stderr}`)); } });
    check();
  });
  await waitLog(/registered with the leader/);
  return {
    name, child, log: () => stderr, waitLog,
    kill9: async () => { child.kill('SIGKILL'); await exited; },
    stop: async () => { child.kill('SIGTERM'); return exited; },
    exited: () => exited,
  };
}
