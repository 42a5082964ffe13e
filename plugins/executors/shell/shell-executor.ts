// The shell executor, with Dkron's config keys: command, shell, env, cwd,
// timeout, mem_limit, payload. The child leads its own process group, so a
// timeout, a memory limit or a stop kills the whole tree (grandchildren too).
// stdout and stderr are merged and streamed as produced, never buffered.

import { execa } from 'execa';
import { failure, type ExecuteRequest, type ExecuteResult, type Executor, type OutputSink } from '../../sdk/executor.js';
import { groupRssBytes, parseMemLimit } from './mem-limit.js';
import { splitCommand } from './split-command.js';
import { parseGoDurationMs } from '../../sdk/go-duration.js';

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

    const sub = execa(file, args, {
      ...(c['cwd'] ? { cwd: c['cwd'] } : {}),
      env: { ...parseEnv(c['env'] ?? ''), ENV_JOB_NAME: req.jobName },
      extendEnv: true,
      detached: true,
      cleanup: true,
      buffer: false,
      all: true,
      reject: false,
      stripFinalNewline: false,
      ...(c['payload'] ? { input: Buffer.from(c['payload'], 'base64') } : { stdin: 'ignore' as const }),
    });
    sub.all?.on('data', (chunk: Buffer) => output.write(chunk));

    let ended: string | null = null;
    const end = (why: string) => {
      if (ended) return;
      ended = why;
      killGroup(sub.pid);
    };
    const onAbort = () => end('stopped');
    signal.addEventListener('abort', onAbort, { once: true });
    const timeoutMs = c['timeout'] ? parseGoDurationMs(c['timeout']) : 0;
    const timer = timeoutMs > 0 ? setTimeout(() => end(`timed out after ${c['timeout']}: the process tree was killed`), timeoutMs) : null;
    const limit = c['mem_limit'] ? parseMemLimit(c['mem_limit']) : 0;
    const poll = limit > 0 && sub.pid !== undefined
      ? setInterval(() => {
          void groupRssBytes(sub.pid as number).then((rss) => {
            if (rss > limit) end(`memory limit exceeded (${rss} bytes > mem_limit ${c['mem_limit']}): the process tree was killed`);
          });
        }, 1000)
      : null;
    try {
      const result = await sub;
      if (ended) {
        output.write(Buffer.from(`\n${ended}\n`));
        return failure(ended);
      }
      if (result.code === 'ENOENT' || /ENOENT/.test(result.code ?? '')) {
        return failure(c['shell'] === 'true' ? `cannot run /bin/sh: ${result.shortMessage}` : `executable not found: ${file}`);
      }
      if (result.code === 'EACCES') return failure(`permission denied: ${file}`);
      if (result.exitCode === 0) return { success: true, exitCode: 0, error: '' };
      if (result.exitCode === undefined) return failure(`killed by ${result.signal ?? 'a signal'}`);
      return failure(`exit status ${result.exitCode}`, result.exitCode);
    } finally {
      if (timer) clearTimeout(timer);
      if (poll) clearInterval(poll);
      signal.removeEventListener('abort', onAbort);
    }
  }
}
