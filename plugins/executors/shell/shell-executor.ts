// The shell executor, with Dkron's config keys: command, shell, env, cwd,
// timeout, mem_limit, payload. The child leads its own process group, so a
// timeout, a memory limit or a stop kills the whole tree (grandchildren too).
// stdout and stderr are merged and streamed as produced, never buffered.

import { spawn } from 'node:child_process';
import { failure, type ExecuteRequest, type ExecuteResult, type Executor, type OutputSink } from '../../sdk/executor.js';
import { MemLimitWatch, parseMemLimit } from './mem-limit.js';
import { splitCommand } from './split-command.js';
import { parseGoDurationMs } from '../../sdk/go-duration.js';
import { setLongTimeout } from '../../../common/long-timeout.js';

export function validateShellConfig(config: Readonly<Record<string, string>>): string | null {
  try {
    if (config['timeout']) parseGoDurationMs(config['timeout']);
    if (config['mem_limit']) parseMemLimit(config['mem_limit']);
  } catch (err) {
    return (err as Error).message;
  }
  return null;
}

function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    if (eq > 0) env[pair.slice(0, eq).trim()] = pair.slice(eq + 1);
  }
  return env;
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export class ShellExecutor implements Executor {
  readonly name = 'shell';
  /**
   * The environment the commands extend, copied once: reading process.env
   * costs ~0.1 ms a time (every key goes through the C++ side), a tenth of
   * a spawn, and neither the plugin program nor a server changes it.
   */
  private readonly baseEnv: Readonly<Record<string, string | undefined>> = { ...process.env };
  private readonly memLimits = new MemLimitWatch();

  validate(config: Readonly<Record<string, string>>): string | null {
    return validateShellConfig(config);
  }

  async execute(req: ExecuteRequest, output: OutputSink, signal: AbortSignal): Promise<ExecuteResult> {
    const c = req.config;
    const command = (c['command'] ?? '').trim();
    if (command === '') return failure('Command missing: set executor_config.command');
    const problem = validateShellConfig(c);
    if (problem) return failure(problem);
    let file: string;
    let args: string[];
    if (c['shell'] === 'true') {
      [file, args] = ['/bin/sh', ['-c', command]];
    } else {
      let words: string[];
      try {
        words = splitCommand(command);
      } catch (err) {
        return failure((err as Error).message);
      }
      [file, ...args] = words as [string, ...string[]];
    }
    if (signal.aborted) return failure('stopped before it started');

    const child = spawn(file, args, {
      ...(c['cwd'] ? { cwd: c['cwd'] } : {}),
      env: { ...this.baseEnv, ...parseEnv(c['env'] ?? ''), ENV_JOB_NAME: req.jobName },
      // Its own process group, so killGroup reaches the whole tree.
      detached: true,
      stdio: [c['payload'] ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    const write = (chunk: Buffer) => output.write(chunk);
    child.stdout?.on('data', write);
    child.stderr?.on('data', write);
    if (child.stdin) {
      // A command that does not read its input closes the pipe early: not an error of the run.
      child.stdin.on('error', () => {});
      child.stdin.end(Buffer.from(c['payload'] ?? '', 'base64'));
    }

    let ended: string | null = null;
    const end = (why: string) => {
      if (ended) return;
      ended = why;
      killGroup(child.pid);
    };
    const onAbort = () => end('stopped');
    signal.addEventListener('abort', onAbort, { once: true });
    const timeoutMs = c['timeout'] ? parseGoDurationMs(c['timeout']) : 0;
    const timer = timeoutMs > 0 ? setLongTimeout(() => end(`timed out after ${c['timeout']}: the process tree was killed`), timeoutMs) : null;
    const limit = c['mem_limit'] ? parseMemLimit(c['mem_limit']) : 0;
    const unwatch = limit > 0 && child.pid !== undefined
      ? this.memLimits.watch(child.pid, limit, (rss) => end(`memory limit exceeded (${rss} bytes > mem_limit ${c['mem_limit']}): the process tree was killed`))
      : null;
    try {
      // 'close': exited and its output fully read; 'error' alone: it never started.
      const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: NodeJS.ErrnoException }>((resolve) => {
        child.once('close', (code, sig) => resolve({ code, signal: sig }));
        child.once('error', (error: NodeJS.ErrnoException) => {
          if (child.pid === undefined) resolve({ error });
        });
      });
      if (ended) {
        output.write(Buffer.from(`\n${ended}\n`));
        return failure(ended);
      }
      if ('error' in exit) {
        const code = exit.error.code ?? '';
        if (c['shell'] === 'true') return failure(`cannot run /bin/sh: ${exit.error.message}`);
        if (code === 'ENOENT') return failure(c['cwd'] ? `executable not found: ${file} (or no directory ${c['cwd']})` : `executable not found: ${file}`);
        if (code === 'EACCES') return failure(`permission denied: ${file}`);
        return failure(`cannot run ${file}: ${exit.error.message}`);
      }
      if (exit.code === 0) return { success: true, exitCode: 0, error: '' };
      if (exit.code === null) return failure(`killed by ${exit.signal ?? 'a signal'}`);
      return failure(`exit status ${exit.code}`, exit.code);
    } finally {
      timer?.clear();
      unwatch?.();
      signal.removeEventListener('abort', onAbort);
    }
  }
}
