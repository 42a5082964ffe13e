// The host side of an executor plugin: an Executor that runs each execution
// in a separate plugin program over gRPC.
//
// It starts the program with the magic cookie, reads its one handshake line
// (within a start timeout), connects, and checks gRPC health. The program is
// long-lived and serves concurrent executions. If it dies, the executions it
// was running fail with a message saying so, and the next execution starts
// it again; the host itself never goes down with a plugin. Whatever the
// program prints on stderr (and on stdout after the handshake) goes to the
// host's log, never into execution output.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { pluginProto } from '../../proto/load-proto.js';
import type { ExecuteEvent__Output } from '../../proto/generated/clocktower/plugin/v1/ExecuteEvent.js';
import type { ExecutorClient } from '../../proto/generated/clocktower/plugin/v1/Executor.js';
import { failure, type ExecuteRequest, type ExecuteResult, type Executor, type OutputSink } from './executor.js';
import { magicCookieKey, magicCookieValue, parseHandshake } from './handshake.js';

export interface PluginOptions {
  /** How long the program may take to print its handshake (default 10 s). */
  readonly startTimeoutMs?: number;
  /** Lines the program writes to stderr, or to stdout after the handshake. */
  readonly log?: (line: string) => void;
}

export class PluginError extends Error {
  override readonly name = 'PluginError';
  readonly code = 'CT_PLUGIN_FAILED';
}

interface Running {
  readonly child: ChildProcess;
  readonly client: ExecutorClient;
  readonly exited: Promise<string>;
}

const HealthClient = grpc.makeGenericClientConstructor(healthService, 'Health');

export class PluginExecutor implements Executor {
  private running: Promise<Running> | null = null;
  private child: ChildProcess | null = null;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly program: string,
    private readonly options: PluginOptions = {},
  ) {}

  /** Start the program now (otherwise the first execution starts it). */
  async start(): Promise<void> {
    await this.ensure();
  }

  private ensure(): Promise<Running> {
    if (this.closed) return Promise.reject(new PluginError(`plugin ${this.name} is stopped`));
    this.running ??= this.launch().catch((err: unknown) => {
      this.running = null;
      throw err;
    });
    return this.running;
  }

  private async launch(): Promise<Running> {
    const log = this.options.log ?? (() => {});
    const child = spawn(this.program, [], {
      env: { ...process.env, [magicCookieKey]: magicCookieValue },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stderrTail: string[] = [];
    createInterface({ input: child.stderr }).on('line', (line) => {
      stderrTail.push(line);
      if (stderrTail.length > 5) stderrTail.shift();
      log(`plugin ${this.name}: ${line}`);
    });
    const exited = new Promise<string>((resolve) => {
      child.once('error', (err) => resolve(`could not start: ${err.message}`));
      child.once('exit', (code, signal) => resolve(signal ? `killed by ${signal}` : `exited with code ${code ?? '?'}`));
    });
    void exited.then(() => {
      // The next execution starts a fresh program.
      if (this.child === child) {
        this.child = null;
        this.running = null;
      }
    });
    this.child = child;
    const stdout = createInterface({ input: child.stdout });
    const timeoutMs = this.options.startTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const line = await Promise.race([
      new Promise<string>((resolve) => stdout.once('line', resolve)),
      exited.then((how) => { throw new PluginError(`plugin ${this.name} ${how} before its handshake${stderrTail.length ? `: ${stderrTail.join(' | ')}` : ''}`); }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new PluginError(`plugin ${this.name} printed no handshake within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer)).catch((err: unknown) => {
      child.kill('SIGKILL');
      throw err;
    });
    stdout.on('line', (l) => log(`plugin ${this.name} (stdout): ${l}`));
    let handshake;
    try {
      handshake = parseHandshake(line);
    } catch (err) {
      child.kill('SIGKILL');
      throw new PluginError(`plugin ${this.name}: ${(err as Error).message}`);
    }
    const target = handshake.network === 'unix' ? `unix:${handshake.address}` : handshake.address;
    const proto = pluginProto().clocktower.plugin.v1;
    const client = new proto.Executor(target, grpc.credentials.createInsecure()) as unknown as ExecutorClient;
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

  async execute(req: ExecuteRequest, output: OutputSink, signal: AbortSignal): Promise<ExecuteResult> {
    let p: Running;
    try {
      p = await this.ensure();
    } catch (err) {
      return failure((err as Error).message);
    }
    return new Promise<ExecuteResult>((resolve) => {
      let result: ExecuteResult | null = null;
      const call = p.client.Execute({
        job_name: req.jobName, config: { ...req.config }, execution_id: req.executionId,
        scheduled_at_ms: String(req.scheduledAtMs), attempt: req.attempt,
      });
      const onAbort = () => {
        p.client.Stop({ execution_id: req.executionId }, () => {});
      };
      signal.addEventListener('abort', onAbort, { once: true });
      call.on('data', (ev: ExecuteEvent__Output) => {
        if (ev.output) output.write(ev.output.data);
        else if (ev.result) result = { success: ev.result.success, exitCode: ev.result.exit_code, error: ev.result.error };
      });
      let settled = false;
      const done = (r: ExecuteResult) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      };
      let failed = false;
      call.on('error', (err: grpc.ServiceError) => {
        failed = true;
        void Promise.race([p.exited, new Promise<null>((r) => setTimeout(() => r(null), 200))]).then((how) => {
          done(failure(how ? `plugin ${this.name} ${how} while running this execution` : `plugin ${this.name} failed: ${err.details || err.message}`));
        });
      });
      call.on('end', () => failed || done(result ?? failure(`plugin ${this.name} ended the execution without a result`)));
    });
  }

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
