// The host side of an executor plugin: an Executor that runs each execution
// in a separate plugin program over gRPC (started, handshaken, health-checked
// and restarted by PluginProcess).
//
// Executions go over one long-lived Session stream per program process
// (plugin-session.ts: batched, flow-controlled output); a program built
// before Session (UNIMPLEMENTED) gets an Execute call per execution.
//
// The program serves concurrent executions. If it dies, the executions it
// was running fail with a message saying so, and the next execution starts
// it again; the host itself never goes down with a plugin. Whatever the
// program prints goes to the host's log, never into execution output.
//
// `instances` > 1 runs that many copies of the program and gives each
// execution to the one with the fewest running: for programs that spawn
// processes (shell), since a spawn blocks the spawning program's event
// loop until the child has exec'd, and copies spawn in parallel.

import * as grpc from '@grpc/grpc-js';
import { pluginProto } from '../../proto/load-proto.js';
import type { ExecuteEvent__Output } from '../../proto/generated/clocktower/plugin/v1/ExecuteEvent.js';
import type { ExecutorClient } from '../../proto/generated/clocktower/plugin/v1/Executor.js';
import { ExecErrorCode, failure, type ExecuteRequest, type ExecuteResult, type Executor, type OutputSink } from './executor.js';
import { PluginProcess, type PluginOptions, type RunningPlugin } from './plugin-process.js';
import { HostSession } from './plugin-session.js';
import { fromWireResult, toWireRequest } from './plugin-wire.js';

export { PluginError, type PluginOptions } from './plugin-process.js';

export interface PluginExecutorOptions extends PluginOptions {
  /** Copies of the program to spread executions over (default 1). */
  readonly instances?: number;
  /**
   * The secret keys the program is known to declare before it is started
   * (a bundled executor's own declaration): without them, the keys are
   * unknown until the program has started and answered Describe.
   */
  readonly secretKeys?: readonly string[];
}

export class PluginExecutor implements Executor {
  private readonly plugins: PluginProcess<ExecutorClient>[];
  /** Executions running on each of `plugins`. */
  private readonly running: number[];
  /** How long a program may take to answer a new Session (then it gets Execute calls). */
  private readonly helloTimeoutMs: number;
  /** Each running program's session (null: it serves Execute only). */
  private readonly sessions = new Map<RunningPlugin<ExecutorClient>, Promise<HostSession | null>>();
  /** What each started program declared (asked once per program started). */
  private readonly described = new WeakMap<RunningPlugin<ExecutorClient>, Promise<void>>();
  /** The secret keys the last program asked declared; null: none asked yet. */
  /** What the program declared, with the keys known beforehand; null until it answered. */
  private declared: readonly string[] | null = null;
  private readonly known: readonly string[] | null;

  constructor(
    readonly name: string,
    program: string,
    options: PluginExecutorOptions = {},
  ) {
    const proto = pluginProto().clocktower.plugin.v1;
    const connect = (target: string) => new proto.Executor(target, grpc.credentials.createInsecure()) as unknown as ExecutorClient;
    const instances = Math.max(1, Math.floor(options.instances ?? 1));
    this.plugins = Array.from({ length: instances }, () => new PluginProcess(name, program, connect, options));
    this.helloTimeoutMs = options.startTimeoutMs ?? 10_000;
    this.running = this.plugins.map(() => 0);
    this.known = options.secretKeys ?? null;
  }

  /**
   * The executor_config keys the program declares secret (with those known
   * beforehand); null while that is not known: no program has started and
   * answered yet, and none were known beforehand.
   */
  get secretKeys(): readonly string[] | null {
    return this.declared ?? this.known;
  }

  /** Start the program now (otherwise the first execution starts it), and learn what it declares. */
  async start(): Promise<void> {
    await Promise.all(this.plugins.map(async (p) => this.describe(await p.ensure())));
  }

  /**
   * Ask a started program what it declares (once per program: a restarted
   * or replaced program is asked again). A program too old to know the
   * call declares nothing; one that fails to answer in time leaves the
   * last answer in place.
   */
  private withKnown(declared: readonly string[]): readonly string[] {
    return this.known === null || this.known.length === 0 ? declared : [...new Set([...this.known, ...declared])];
  }

  private describe(p: RunningPlugin<ExecutorClient>): Promise<void> {
    let asked = this.described.get(p);
    if (!asked) {
      asked = new Promise<void>((resolve) => {
        p.client.Describe({}, { deadline: Date.now() + validateTimeoutMs }, (err, res) => {
          // Kept merged with the keys known beforehand, so reading them (once per job shown) costs nothing.
          if (!err && res) this.declared = this.withKnown(res.secret_keys);
          else if (err?.code === grpc.status.UNIMPLEMENTED) this.declared = this.withKnown([]);
          resolve();
        });
      });
      this.described.set(p, asked);
    }
    return asked;
  }

  async execute(req: ExecuteRequest, output: OutputSink, signal: AbortSignal): Promise<ExecuteResult> {
    let i = 0;
    for (let j = 1; j < this.running.length; j++) if ((this.running[j] ?? 0) < (this.running[i] ?? 0)) i = j;
    this.running[i] = (this.running[i] ?? 0) + 1;
    try {
      return await this.executeOn(this.plugins[i] as PluginProcess<ExecutorClient>, req, output, signal);
    } finally {
      this.running[i] = (this.running[i] ?? 1) - 1;
    }
  }

  private async executeOn(plugin: PluginProcess<ExecutorClient>, req: ExecuteRequest, output: OutputSink, signal: AbortSignal): Promise<ExecuteResult> {
    let p: RunningPlugin<ExecutorClient>;
    try {
      p = await plugin.ensure();
    } catch (err) {
      return failure((err as Error).message, -1, ExecErrorCode.PluginUnavailable);
    }
    void this.describe(p);
    let session: HostSession | null;
    try {
      session = await this.sessionOf(plugin, p);
    } catch (err) {
      return crashed(await this.failureText(plugin, p, err));
    }
    // Items on a session are tagged by execution id: the same id twice at once takes the call of its own.
    if (session && !session.has(req.executionId)) return session.execute(req, output, signal);
    return this.executeCall(plugin, p, req, output, signal);
  }

  /**
   * The program's session, opened on first use (null: the program predates
   * Session, so each execution is an Execute call). Asked once per program
   * process; a session that broke is opened again by the next execution.
   */
  private sessionOf(plugin: PluginProcess<ExecutorClient>, p: RunningPlugin<ExecutorClient>): Promise<HostSession | null> {
    const known = this.sessions.get(p);
    if (!known) return this.reopen(plugin, p, undefined);
    return known.then((s) => (s === null || s.usable ? s : this.reopen(plugin, p, known)), () => this.reopen(plugin, p, known));
  }

  private reopen(plugin: PluginProcess<ExecutorClient>, p: RunningPlugin<ExecutorClient>, stale: Promise<HostSession | null> | undefined): Promise<HostSession | null> {
    const now = this.sessions.get(p);
    // Another execution has opened it again meanwhile.
    if (now !== undefined && now !== stale) return now;
    if (now === undefined) void p.exited.then(() => this.sessions.delete(p));
    const opening = HostSession.open(p.client, this.helloTimeoutMs, (err) => this.failureText(plugin, p, err, err
      ? 'its session broke: '
      : null));
    this.sessions.set(p, opening);
    return opening;
  }

  /**
   * Why an execution failed on `p`: how the program died when it did, else
   * the call's error (after `context`); a null context: the session ended
   * without a result for it.
   */
  private async failureText(plugin: PluginProcess<ExecutorClient>, p: RunningPlugin<ExecutorClient>, err: unknown, context: string | null = ''): Promise<string> {
    const how = await plugin.deathOf(p);
    if (how) return `plugin ${this.name} ${how} while running this execution`;
    if (context === null) return `plugin ${this.name} ended its session without a result for this execution`;
    return `plugin ${this.name} failed: ${context}${errorText(err)}`;
  }

  /** One Execute call (a plugin program built before Session). */
  private executeCall(plugin: PluginProcess<ExecutorClient>, p: RunningPlugin<ExecutorClient>, req: ExecuteRequest, output: OutputSink, signal: AbortSignal): Promise<ExecuteResult> {
    return new Promise<ExecuteResult>((resolve) => {
      const call = p.client.Execute(toWireRequest(req));
      const onAbort = () => {
        p.client.Stop({ execution_id: req.executionId }, () => {});
      };
      signal.addEventListener('abort', onAbort, { once: true });
      let settled = false;
      const done = (r: ExecuteResult) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      };
      // The result is the last event: settle on it, without waiting for the call's status.
      call.on('data', (ev: ExecuteEvent__Output) => {
        if (ev.output) output.write(ev.output.data);
        else if (ev.result) done(fromWireResult(ev.result));
      });
      let failed = false;
      call.on('error', (err: grpc.ServiceError) => {
        failed = true;
        void this.failureText(plugin, p, err).then((text) => done(crashed(text)));
      });
      call.on('end', () => failed || done(crashed(`plugin ${this.name} ended the execution without a result`)));
    });
  }

  /**
   * How each copy's executions travel: "session" (one Session stream),
   * "calls" (an Execute call each: a program built before Session), or
   * "none yet" (not started, or not asked since it was started again).
   */
  async transports(): Promise<('session' | 'calls' | 'none yet')[]> {
    return Promise.all(this.plugins.map(async (plugin) => {
      const p = await plugin.current();
      const s = p ? this.sessions.get(p) : undefined;
      if (!s) return 'none yet' as const;
      return s.then((session) => (session === null ? 'calls' as const : 'session' as const), () => 'none yet' as const);
    }));
  }

  /**
   * Ask the program to check a job's config when the job is saved. Best
   * effort: a program that cannot start, is too old to know the call, or
   * does not answer within a few seconds does not stop the save (the
   * execution reports the problem instead).
   */
  async validate(config: Readonly<Record<string, string>>): Promise<string | null> {
    let p: RunningPlugin<ExecutorClient>;
    try {
      p = await (this.plugins[0] as PluginProcess<ExecutorClient>).ensure();
    } catch {
      return null;
    }
    void this.describe(p);
    return new Promise((resolve) => {
      p.client.Validate({ config: { ...config } }, { deadline: Date.now() + validateTimeoutMs }, (err, res) => {
        resolve(err || !res || res.error === '' ? null : res.error);
      });
    });
  }

  async close(): Promise<void> {
    // SIGTERM lets the program stop what runs and send those results over its session before it ends.
    await Promise.all(this.plugins.map((p) => p.close()));
  }
}

const validateTimeoutMs = 5000;

/** The program died, or its call or session ended without this execution's result. */
function crashed(text: string): ExecuteResult {
  return failure(text, -1, ExecErrorCode.PluginCrashed);
}

function errorText(err: unknown): string {
  const e = err as Partial<grpc.ServiceError>;
  return e.details || e.message || String(err);
}
