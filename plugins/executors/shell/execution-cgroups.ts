// One cgroup (v2) per shell execution, where the machine offers it: every
// process the command starts lands in it, including children that call
// setsid() or double-fork to leave the process group, and cgroup.kill ends
// them all at once. Without a writable cgroup v2 hierarchy the executor falls
// back to the process group alone (see the README: what a job may leave behind).
//
// Layout: <own cgroup>/clocktower-<pid>/x<n>, reused once emptied. No controllers are enabled, so
// the "no internal processes" rule does not apply and no delegation of
// controllers is needed, only write access to the directory (root, or a
// systemd unit with Delegate=yes).
//
// A command starts inside its cgroup from its first instruction on: this
// process moves itself into the cgroup for the fork (spawn() forks
// synchronously) and back out right after, so the child is born there.
// Where it may not move itself, a shell that moves itself in and then execs
// the command does it instead (one exec more per execution).

import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '../../../common/process-alive.js';

/** Where this process's cgroup v2 directory is mounted, or null when there is none. */
export function ownCgroupDir(): string | null {
  let own: string | undefined;
  let mountinfo: string;
  try {
    own = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'))?.slice(3);
    mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return null;
  }
  if (own === undefined) return null;
  for (const line of mountinfo.split('\n')) {
    // id parent dev root mountpoint options [optional...] - fstype source superoptions
    const [left, right] = line.split(' - ');
    if (!left || !right?.startsWith('cgroup2 ')) continue;
    const fields = left.split(' ');
    const root = fields[3];
    const mountPoint = fields[4];
    if (root === undefined || mountPoint === undefined) continue;
    // The path in /proc/self/cgroup is relative to the mount's root when that root is above it.
    const rel = root === '/' ? own : own.startsWith(root) ? own.slice(root.length) : null;
    if (rel === null) continue;
    return join(mountPoint.replace(/\\040/g, ' '), rel);
  }
  return null;
}


/** Kills every process in a cgroup directory; true once it holds none. */
function killAll(dir: string): boolean {
  if (procs(dir).length === 0) return true;
  try {
    writeFileSync(join(dir, 'cgroup.kill'), '1');
  } catch {
    // Kernels before 5.14 have no cgroup.kill: signal the members one by one.
    for (const pid of procs(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  return procs(dir).length === 0;
}

function procs(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Removes a cgroup once its processes are gone (they die asynchronously after SIGKILL). */
function removeWhenEmpty(dir: string, attempt = 0): void {
  killAll(dir);
  try {
    rmdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    // EBUSY while a member is still exiting: try again, backing off, for about 10 s.
    if (attempt < 40) setTimeout(() => removeWhenEmpty(dir, attempt + 1), Math.min(10 * 2 ** attempt, 500)).unref();
  }
}

/** Names the cgroups of every ExecutionCgroups in this process (they share the process's base directory). */
let cgroupSeq = 0;

/** Emptied cgroups kept for the next executions: creating and removing one costs the kernel milliseconds. */
const maxIdle = 16;

export class ExecutionCgroup {
  constructor(readonly dir: string, private readonly idle: ExecutionCgroup[], private readonly owner: ExecutionCgroups) {}

  /** Started through the shell wrapper (its exec failing shows as exit status 126 or 127). */
  get wrapped(): boolean {
    return !this.owner.movesItself;
  }

  /** Start `file args` inside this cgroup. */
  spawn(file: string, args: readonly string[], options: SpawnOptions): ChildProcess {
    if (this.owner.movesItself) return this.owner.forkInside(this.dir, () => spawn(file, args, options));
    return spawn('/bin/sh', ['-c', 'echo 0 > "$0/cgroup.procs" 2>/dev/null; exec "$@"', this.dir, file, ...args], options);
  }

  /** Kills every process the command started, wherever it moved in the process tree. */
  kill(): void {
    killAll(this.dir);
  }

  /** Kills what is left; an empty cgroup is kept for the next execution, one still emptying is removed. */
  release(): void {
    if (killAll(this.dir) && this.idle.length < maxIdle) this.idle.push(this);
    else removeWhenEmpty(this.dir);
  }
}

export class ExecutionCgroups {
  private readonly idle: ExecutionCgroup[] = [];

  private constructor(private readonly base: string, private readonly home: string, private canMove: boolean) {}

  /** This process may move itself into an execution's cgroup and back (checked at open). */
  get movesItself(): boolean {
    return this.canMove;
  }

  /** Run `fork` (a synchronous spawn) with this process in `dir`, and move it back home after. */
  forkInside<T>(dir: string, fork: () => T): T {
    moveSelf(dir);
    try {
      return fork();
    } finally {
      try {
        moveSelf(this.home);
      } catch {
        // Never stay where an execution's kill would reach this process: the base is ours too.
        this.canMove = false;
        moveSelf(this.base);
      }
    }
  }

  /**
   * The cgroups for this process's executions, or null when cgroup v2 is not
   * mounted or not writable here. Leftovers of an earlier process (one that
   * crashed with executions running) are killed and removed.
   */
  static open(options: { moveItself?: boolean } = {}): ExecutionCgroups | null {
    const own = ownCgroupDir();
    if (own === null) return null;
    const base = join(own, `clocktower-${process.pid}`);
    // One probe cgroup checks both: that we may create an execution's cgroup (not only the base), and move ourselves into it.
    const probe = join(base, 'probe');
    try {
      mkdirSync(base, { recursive: true });
      mkdirSync(probe);
    } catch {
      return null;
    }
    const canMove = options.moveItself !== false && mayMoveItself(own, probe);
    try {
      rmdirSync(probe);
    } catch {
      // the next start sweeps it
    }
    ExecutionCgroups.sweep(own);
    // A process that ends takes its executions' trees with it (a crash that
    // skips this is swept by the next start).
    process.once('exit', () => ExecutionCgroups.killAndRemove(base));
    return new ExecutionCgroups(base, own, canMove);
  }

  private static sweep(own: string): void {
    let names: string[];
    try {
      names = readdirSync(own);
    } catch {
      return;
    }
    for (const name of names) {
      const m = /^clocktower-(\d+)$/.exec(name);
      if (!m || Number(m[1]) === process.pid || processAlive(Number(m[1]))) continue;
      ExecutionCgroups.killAndRemove(join(own, name));
    }
  }

  private static killAndRemove(base: string): void {
    try {
      for (const child of readdirSync(base, { withFileTypes: true })) {
        if (!child.isDirectory()) continue;
        const dir = join(base, child.name);
        killAll(dir);
        try {
          rmdirSync(dir);
        } catch {
          // still exiting: the next start sweeps it
        }
      }
      rmdirSync(base);
    } catch {
      // gone meanwhile, or busy: the next start sweeps it
    }
  }

  /** An empty cgroup for one execution, or null if none can be made now (the process group still applies). */
  create(): ExecutionCgroup | null {
    const reused = this.idle.pop();
    if (reused) return reused;
    const dir = join(this.base, `x${++cgroupSeq}`);
    try {
      mkdirSync(dir);
    } catch {
      return null;
    }
    return new ExecutionCgroup(dir, this.idle, this);
  }

}

/** Move this whole process (every thread) into the cgroup directory `dir`. */
function moveSelf(dir: string): void {
  writeFileSync(join(dir, 'cgroup.procs'), String(process.pid));
}

/** Whether this process may move itself into the (empty) cgroup `probe` and back `home`. */
function mayMoveItself(home: string, probe: string): boolean {
  try {
    moveSelf(probe);
    moveSelf(home);
    return true;
  } catch {
    // Not allowed to (or back): make sure it is home.
    try {
      moveSelf(home);
    } catch {
      // it never left
    }
    return false;
  }
}
