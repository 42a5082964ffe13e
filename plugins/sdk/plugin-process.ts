// The host side of any plugin program, whatever it serves: start it with the
// magic cookie, read its one handshake line (within a start timeout),
// connect a gRPC client, and check gRPC health. The program is long-lived;
// if it dies, the next call starts it again. Whatever it prints on stderr
// (and on stdout after the handshake) goes to the host's log.
// PluginExecutor and PluginProcessor each hold one of these.

import { spawn, type ChildProcess } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { boundedLines, defaultMaxLineBytes } from './bounded-lines.js';
import { childEnv } from './child-env.js';
import { magicCookieKey, magicCookieValue, parseHandshake } from './handshake.js';

export interface PluginOptions {
  /** How long the program may take to print its handshake (default 10 s). */
  readonly startTimeoutMs?: number;
  /** Lines the program writes to stderr, or to stdout after the handshake. */
  readonly log?: (line: string) => void;
  /**
   * Arguments to start the program with (default none): the single
   * executable runs its bundled plugins as itself with `plugin executor NAME`.
   */
  readonly args?: readonly string[];
  /** Called each time the program is started again after its previous process ended (or failed to start). */
  readonly onRestart?: (name: string) => void;
}

export class PluginError extends Error {
  override readonly name = 'PluginError';
  readonly code = 'CT_PLUGIN_FAILED';
}

export interface RunningPlugin<C> {
  readonly child: ChildProcess;
  readonly client: C;
  /** Resolves, once the program is gone, with how it went ("exited with code 3"). */
  readonly exited: Promise<string>;
}

const HealthClient = grpc.makeGenericClientConstructor(healthService, 'Health');

/** After a failed start, calls fail at once for this long (doubling per failure, up to maxRetryMs). */
const firstRetryMs = 1000;
const maxRetryMs = 30_000;

export class PluginProcess<C extends { close(): void }> {
  private running: Promise<RunningPlugin<C>> | null = null;
  private child: ChildProcess | null = null;
  private closed = false;
  /** The last start failure, while calls are refused without trying again. */
  private failed: { error: PluginError; atMs: number; retryAtMs: number } | null = null;
  private retryMs = firstRetryMs;
  private launches = 0;

  constructor(
    readonly name: string,
    private readonly program: string,
    private readonly connect: (target: string) => C,
    private readonly options: PluginOptions = {},
  ) {}

  /** The running program, started (again) if need be. Rejects with a PluginError. */
  ensure(): Promise<RunningPlugin<C>> {
    if (this.closed) return Promise.reject(new PluginError(`plugin ${this.name} is stopped`));
    // A program known to fail is not waited on again (a job save, or every
    // execution, would each wait out its start timeout): refuse at once, and
    // try again once the back-off has passed.
    const failed = this.failed;
    if (!this.running && failed && Date.now() < failed.retryAtMs) {
      const ago = Math.max(0, Math.round((Date.now() - failed.atMs) / 1000));
      const next = Math.max(1, Math.ceil((failed.retryAtMs - Date.now()) / 1000));
      return Promise.reject(new PluginError(`${failed.error.message} (${ago} s ago; tried again in ${next} s)`));
    }
    this.running ??= this.launch().then((r) => {
      this.failed = null;
      this.retryMs = firstRetryMs;
      return r;
    }, (err: unknown) => {
      this.running = null;
      const error = err instanceof PluginError ? err : new PluginError(`plugin ${this.name}: ${(err as Error).message}`);
      const now = Date.now();
      this.failed = { error, atMs: now, retryAtMs: now + this.retryMs };
      this.retryMs = Math.min(this.retryMs * 2, maxRetryMs);
      throw error;
    });
    return this.running;
  }

  /** The running program, if it is running (never starts it). */
  async current(): Promise<RunningPlugin<C> | null> {
    return this.running ? this.running.catch(() => null) : null;
  }

  /**
   * Why a call to the program failed: how the program died if it did so
   * meanwhile (it gets a moment to be seen exiting), else null.
   */
  async deathOf(p: RunningPlugin<C>): Promise<string | null> {
    let timer: NodeJS.Timeout | undefined;
    const how = await Promise.race([p.exited, new Promise<null>((r) => { timer = setTimeout(() => r(null), 200); })]);
    clearTimeout(timer);
    return how;
  }

  private async launch(): Promise<RunningPlugin<C>> {
    const log = this.options.log ?? (() => {});
    if (this.launches++ > 0) this.options.onRestart?.(this.name);
    const child = spawn(this.program, [...(this.options.args ?? [])], {
      // Not the host's secrets or settings: the bundled wrappers need CLOCKTOWER_NODE only.
      env: { ...childEnv(process.env, ['CLOCKTOWER_NODE']), [magicCookieKey]: magicCookieValue },
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group, so a failed start kills what it started too.
      detached: true,
    });
    const killTree = () => killGroup(child);
    const stderrTail: string[] = [];
    // Every line read from the program is bounded: a flood cannot take the host down.
    boundedLines(child.stderr).onLine((line, cut) => {
      const shown = cut ? `${line} [line cut at ${defaultMaxLineBytes} bytes]` : line;
      stderrTail.push(shown.slice(0, 500));
      if (stderrTail.length > 5) stderrTail.shift();
      log(`plugin ${this.name}: ${shown}`);
    });
    const exited = new Promise<string>((resolve) => {
      child.once('error', (err) => resolve(`could not start: ${err.message}`));
      child.once('exit', (code, signal) => resolve(signal ? `killed by ${signal}` : `exited with code ${code ?? '?'}`));
    });
    void exited.then(() => {
      // The next call starts a fresh program.
      if (this.child === child) {
        this.child = null;
        this.running = null;
      }
    });
    this.child = child;
    const stdout = boundedLines(child.stdout);
    let firstLine: ((line: string, cut: boolean) => void) | null = null;
    let afterHandshake = false;
    stdout.onLine((l, cut) => {
      if (firstLine) {
        const take = firstLine;
        firstLine = null;
        take(l, cut);
      } else if (afterHandshake) {
        log(`plugin ${this.name} (stdout): ${cut ? `${l} [line cut at ${defaultMaxLineBytes} bytes]` : l}`);
      }
    });
    const timeoutMs = this.options.startTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const line = await Promise.race([
      new Promise<string>((resolve, reject) => {
        firstLine = (l, cut) => {
          if (cut) reject(new PluginError(`plugin ${this.name} printed more than ${defaultMaxLineBytes} bytes without a newline instead of its handshake`));
          else resolve(l);
        };
      }),
      exited.then((how) => { throw new PluginError(`plugin ${this.name} ${how} before its handshake${stderrTail.length ? `: ${stderrTail.join(' | ')}` : ''}`); }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new PluginError(`plugin ${this.name} printed no handshake within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer)).catch((err: unknown) => {
      killTree();
      throw err;
    });
    afterHandshake = true;
    let handshake;
    try {
      handshake = parseHandshake(line);
    } catch (err) {
      killTree();
      throw new PluginError(`plugin ${this.name}: ${(err as Error).message}`);
    }
    const target = handshake.network === 'unix' ? `unix:${handshake.address}` : handshake.address;
    const client = this.connect(target);
    const health = new HealthClient(target, grpc.credentials.createInsecure());
    try {
      await checkHealth(health, timeoutMs);
    } catch (err) {
      killTree();
      client.close();
      throw new PluginError(`plugin ${this.name} is not healthy: ${(err as Error).message}`);
    } finally {
      health.close();
    }
    return { child, client, exited };
  }

  /** Stop the program (SIGTERM, then SIGKILL after 5 s); no call starts it again. */
  async close(): Promise<void> {
    this.closed = true;
    const r = await this.running?.catch(() => null);
    if (!r) return;
    r.client.close();
    r.child.kill('SIGTERM');
    const killer = setTimeout(() => killGroup(r.child), 5000);
    await r.exited;
    clearTimeout(killer);
  }
}

/** SIGKILL to the program and everything in its process group. */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

function checkHealth(client: grpc.Client, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + timeoutMs);
    (client as unknown as { check(req: { service: string }, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: { status: string | number }) => void): void })
      .check({ service: '' }, { deadline }, (err, res) => {
        if (err) return reject(err);
        if (res?.status !== 'SERVING' && res?.status !== 1) return reject(new Error(`health status ${String(res?.status)}`));
        resolve();
      });
  });
}
