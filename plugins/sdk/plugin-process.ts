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
import { magicCookieKey, magicCookieValue, parseHandshake } from './handshake.js';

export interface PluginOptions {
  /** How long the program may take to print its handshake (default 10 s). */
  readonly startTimeoutMs?: number;
  /** Lines the program writes to stderr, or to stdout after the handshake. */
  readonly log?: (line: string) => void;
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

export class PluginProcess<C extends { close(): void }> {
  private running: Promise<RunningPlugin<C>> | null = null;
  private child: ChildProcess | null = null;
  private closed = false;
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
    this.running ??= this.launch().catch((err: unknown) => {
      this.running = null;
      throw err;
    });
    return this.running;
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
    const child = spawn(this.program, [], {
      env: { ...process.env, [magicCookieKey]: magicCookieValue },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
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
      child.kill('SIGKILL');
      throw err;
    });
    afterHandshake = true;
    let handshake;
    try {
      handshake = parseHandshake(line);
    } catch (err) {
      child.kill('SIGKILL');
      throw new PluginError(`plugin ${this.name}: ${(err as Error).message}`);
    }
    const target = handshake.network === 'unix' ? `unix:${handshake.address}` : handshake.address;
    const client = this.connect(target);
    const health = new HealthClient(target, grpc.credentials.createInsecure());
    try {
      await checkHealth(health, timeoutMs);
    } catch (err) {
      child.kill('SIGKILL');
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
    const killer = setTimeout(() => r.child.kill('SIGKILL'), 5000);
    await r.exited;
    clearTimeout(killer);
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
