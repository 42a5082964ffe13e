// The shell executor, with Dkron's config keys: command, shell, env, cwd,
// timeout, mem_limit, payload. The child leads its own process group, so a
// timeout, a memory limit or a stop kills the whole tree (grandchildren too);
// where cgroup v2 is writable each execution also gets a cgroup, which holds
// the children that leave the process group (setsid, daemons) as well.
// stdout and stderr are merged and streamed as produced, never buffered.

import { spawn, type SpawnOptions } from 'node:child_process';
import { ExecErrorCode, failure, type ExecuteRequest, type ExecuteResult, type Executor, type OutputSink } from '../../sdk/executor.js';
import { MemLimitWatch, parseMemLimit } from './mem-limit.js';
import { splitCommand } from './split-command.js';
import { parseGoDurationMs } from '../../sdk/go-duration.js';
import { setLongTimeout } from '../../../common/long-timeout.js';
import { ExecutionCgroups } from './execution-cgroups.js';
import { executableProblem } from './find-executable.js';
import { childEnv } from '../../sdk/child-env.js';

export function validateShellConfig(config: Readonly<Record<string, string>>): string | null {
  try {
    if (config['timeout']) parseGoDurationMs(config['timeout']);
    if (config['mem_limit']) parseMemLimit(config['mem_limit']);
  } catch (err) {
    return (err as Error).message;
  }
  return null;
}

/** A workflow run's parameters as CLOCKTOWER_PARAM_<KEY> variables. */
function paramEnv(params: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(params ?? {})) if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) out[`CLOCKTOWER_PARAM_${k.toUpperCase()}`] = v;
  return out;
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
   * The environment the commands extend (this process's own without
   * Clocktower's variables, see childEnv), copied once: reading process.env
   * costs ~0.1 ms a time (every key goes through the C++ side), a tenth of
   * a spawn, and neither the plugin program nor a server changes it.
   */
  private readonly baseEnv: Readonly<Record<string, string>> = childEnv(process.env);
  private readonly memLimits = new MemLimitWatch();
  /** One cgroup per execution where cgroup v2 is writable; null: the process group only. */
  private readonly cgroups: ExecutionCgroups | null;
  private readonly drainMs: number;

  /** `cgroups: 'wrapper'` starts each command through the shell wrapper even where this process may move itself (tests both ways). */
  constructor(options: { cgroups?: boolean | 'wrapper'; drainMs?: number } = {}) {
    this.cgroups = options.cgroups === false ? null : ExecutionCgroups.open({ moveItself: options.cgroups !== 'wrapper' });
    this.drainMs = options.drainMs ?? 1000;
  }

  /** How this executor contains a command's processes: 'cgroup' or 'process group'. */
  get containment(): 'cgroup' | 'process group' {
    return this.cgroups ? 'cgroup' : 'process group';
  }

  validate(config: Readonly<Record<string, string>>): string | null {
    return validateShellConfig(config);
  }

  async execute(req: ExecuteRequest, output: OutputSink, signal: AbortSignal): Promise<ExecuteResult> {
    const c = req.config;
    const command = (c['command'] ?? '').trim();
    if (command === '') return failure('Command missing: set executor_config.command', -1, ExecErrorCode.ConfigInvalid);
    const problem = validateShellConfig(c);
    if (problem) return failure(problem, -1, ExecErrorCode.ConfigInvalid);
    let file: string;
    let args: string[];
    if (c['shell'] === 'true') {
      [file, args] = ['/bin/sh', ['-c', command]];
    } else {
      let words: string[];
      try {
        words = splitCommand(command);
      } catch (err) {
        return failure((err as Error).message, -1, ExecErrorCode.ConfigInvalid);
      }
      [file, ...args] = words as [string, ...string[]];
    }
    if (signal.aborted) return failure('stopped before it started', -1, ExecErrorCode.Stopped);
    const env: Record<string, string | undefined> = { ...this.baseEnv, ...parseEnv(c['env'] ?? ''), ...paramEnv(req.params), ENV_JOB_NAME: req.jobName };
    const cgroup = this.cgroups?.create() ?? null;
    const cannotRun = (problem: 'ENOENT' | 'EACCES') => failure(problem === 'EACCES'
      ? `permission denied: ${file}`
      : c['cwd'] ? `executable not found: ${file} (or no directory ${c['cwd']})` : `executable not found: ${file}`);
    const options: SpawnOptions = {
      ...(c['cwd'] ? { cwd: c['cwd'] } : {}),
      env,
      // Its own process group, so killGroup reaches the tree when there is no cgroup.
      detached: true,
      stdio: [c['payload'] ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    };
    const child = cgroup ? cgroup.spawn(file, args, options) : spawn(file, args, options);
    const killTree = () => {
      cgroup?.kill();
      killGroup(child.pid);
    };
    // Over a plugin Session, output the host has not taken yet waits in this
    // process: the command's pipes pause meanwhile (it blocks writing, as in a terminal).
    const pipes = [child.stdout, child.stderr].filter((p) => p !== null);
    // Once the main process has exited, what is left in the pipes is read at once.
    let paused = false;
    let mainExited = false;
    const resume = () => {
      paused = false;
      for (const p of pipes) p.resume();
    };
    const write = (chunk: Buffer) => {
      output.write(chunk);
      if (paused || mainExited || !output.whenDrained) return;
      // True when the host is behind: `resume` runs once it has caught up.
      const behind = output.whenDrained(resume);
      if (!behind) return;
      paused = true;
      for (const p of pipes) p.pause();
    };
    for (const p of pipes) p.on('data', write);
    if (child.stdin) {
      // A command that does not read its input closes the pipe early: not an error of the run.
      child.stdin.on('error', () => {});
      child.stdin.end(Buffer.from(c['payload'] ?? '', 'base64'));
    }

    let ended: string | null = null;
    let endedCode: ExecErrorCode = ExecErrorCode.Stopped;
    const end = (why: string, code: ExecErrorCode) => {
      if (ended) return;
      ended = why;
      endedCode = code;
      killTree();
    };
    const onAbort = () => end('stopped', ExecErrorCode.Stopped);
    signal.addEventListener('abort', onAbort, { once: true });
    const timeoutMs = c['timeout'] ? parseGoDurationMs(c['timeout']) : 0;
    const timer = timeoutMs > 0 ? setLongTimeout(() => end(`timed out after ${c['timeout']}: the process tree was killed`, ExecErrorCode.Timeout), timeoutMs) : null;
    const limit = c['mem_limit'] ? parseMemLimit(c['mem_limit']) : 0;
    const unwatch = limit > 0 && child.pid !== undefined
      ? this.memLimits.watch(child.pid, limit, (rss) => end(`memory limit exceeded (${rss} bytes > mem_limit ${c['mem_limit']}): the process tree was killed`, ExecErrorCode.MemoryLimit))
      : null;
    let drain: NodeJS.Timeout | undefined;
    try {
      // The execution ends when its main process exits, whatever its children
      // do: what is left of the tree is killed then, and the output already
      // written is read until the pipes close, or for drainMs if something
      // outside the tree's reach (a setsid child without a cgroup) holds them.
      const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: NodeJS.ErrnoException }>((resolve) => {
        let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
        child.once('exit', (code, sig) => {
          exited = { code, signal: sig };
          mainExited = true;
          for (const p of pipes) p.resume();
          killTree();
          drain = setTimeout(() => {
            child.stdout?.destroy();
            child.stderr?.destroy();
            resolve({ code, signal: sig });
          }, this.drainMs);
        });
        child.once('close', (code: number | null, sig: NodeJS.Signals | null) => resolve(exited ?? { code, signal: sig }));
        child.once('error', (error: NodeJS.ErrnoException) => {
          if (child.pid === undefined) resolve({ error });
        });
      });
      if (ended) {
        output.write(Buffer.from(`\n${ended}\n`));
        return failure(ended, -1, endedCode);
      }
      if ('error' in exit) {
        const code = exit.error.code ?? '';
        if (c['shell'] === 'true') return failure(`cannot run /bin/sh: ${exit.error.message}`);
        if (code === 'ENOENT' || code === 'EACCES') return cannotRun(code);
        return failure(`cannot run ${file}: ${exit.error.message}`);
      }
      if (exit.code === 0) return { success: true, exitCode: 0, error: '' };
      if (exit.code === null) return failure(`killed by ${exit.signal ?? 'a signal'}`);
      if (cgroup?.wrapped === true && c['shell'] !== 'true' && (exit.code === 126 || exit.code === 127)) {
        // The wrapper's exec failed (or the command itself exited so): say what execvp would have said.
        const problem = executableProblem(file, env['PATH'], c['cwd'] || process.cwd());
        if (problem !== null) return cannotRun(problem);
      }
      return failure(`exit status ${exit.code}`, exit.code);
    } finally {
      clearTimeout(drain);
      cgroup?.release();
      timer?.clear();
      unwatch?.();
      signal.removeEventListener('abort', onAbort);
    }
  }
}
