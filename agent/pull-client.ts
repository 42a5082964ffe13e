// A pull agent's connection to the servers (`clocktower agent --pull`): the
// same AgentRunner as a gRPC agent, carried over plain HTTP(S) requests to
// the REST API (README, "Pull agents") instead of a stream: register, then
// poll (the heartbeat) for assignments up to the free slots, post output and
// results (kept and re-posted until acknowledged). Any server answers (a
// follower forwards to the leader); on an error the next one is tried.
//
// Polling backs off when a poll brings nothing or a server errs: linearly
// from --pull-backoff-min to --pull-backoff-max in --pull-backoff-step,
// back to the minimum as soon as a poll brings work. A saturated agent (as
// many executions as --max-concurrent) asks for no work and only heartbeats
// until a slot frees.

import { Agent, request, type Dispatcher } from 'undici';
import type { AgentMessage } from '../proto/generated/clocktower/agent/v1/AgentMessage.js';
import type { Result } from '../proto/generated/clocktower/agent/v1/Result.js';
import type { AgentRunner } from './agent-runner.js';
import { tlsClientOptions, type TlsFiles } from '../common/tls.js';
import { chunksOf } from '../common/chunks.js';

export interface PullBackoff {
  readonly minMs: number;
  readonly maxMs: number;
  readonly stepMs: number;
}

export interface PullClientOptions {
  /** Servers' API base URLs (http://host:port or https://...). */
  readonly servers: readonly string[];
  readonly runner: AgentRunner;
  /** Executions run at once: polls ask for at most this many minus what runs. */
  readonly maxConcurrent: number;
  readonly backoff: PullBackoff;
  /** How long a poll may wait on the server for work (0: answer at once; the server caps it). */
  readonly pollWaitMs: number;
  /** Sent as `Authorization: Bearer`. */
  readonly token?: string | undefined;
  /** Mutual TLS to the API (https:// servers). */
  readonly tls?: TlsFiles | null;
  readonly log?: (line: string) => void;
}

interface Session {
  readonly id: string;
  readonly heartbeatMs: number;
  readonly maxWaitMs: number;
  readonly outputLimit: number;
  /** The server refuses request bodies larger than this. */
  readonly maxBodyBytes: number;
  /** The server takes a result's error_code (an older one refuses the field). */
  readonly errorCodes: boolean;
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

interface WireAssignment {
  execution_id: string;
  job_name: string;
  executor: string;
  config: Record<string, string>;
  scheduled_at_ms: number;
  attempt: number;
  resume_only: boolean;
  have_output_bytes: number;
  params?: Record<string, string>;
}

/** Output buffered beyond this tells the runner to hold back (it keeps a bounded tail meanwhile). */
const outputHighWater = 1024 * 1024;
const resultBatch = 1000;
/** A server that accepts the registration and never answers (a black hole) must not hold the agent. */
const registerTimeoutMs = 5000;

export function nextBackoff(current: number, b: PullBackoff): number {
  return Math.min(b.maxMs, current + b.stepMs);
}

export class PullClient {
  private session: Session | null = null;
  private next = 0;
  private base: string;
  private closed = false;
  private leaving = false;
  private readonly abort = new AbortController();
  private readonly dispatcher: Dispatcher | undefined;
  /** What the runner sent and no server has yet: output in order per execution, results by id. */
  private outputs: { id: string; data: Buffer }[] = [];
  private outputBytes = 0;
  private readonly results = new Map<string, Result>();
  private sending = false;
  private sendAgain = false;
  private sender: Promise<void> = Promise.resolve();
  private wakePoll: (() => void) | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly log: (line: string) => void;
  private readonly send = (m: AgentMessage): boolean => this.fromRunner(m);

  constructor(private readonly options: PullClientOptions) {
    if (options.servers.length === 0) throw new Error('a pull agent needs at least one server URL');
    this.base = options.servers[0] as string;
    this.log = options.log ?? (() => {});
    this.dispatcher = options.tls ? new Agent({ connect: tlsClientOptions(options.tls) }) : new Agent({ keepAliveTimeout: 30_000 });
  }

  start(): void {
    this.loopDone = this.loop();
  }

  /** Assign nothing more to this agent (told again after any re-registration). */
  leave(): void {
    this.leaving = true;
    const s = this.session;
    if (s) void this.post('/v1/pull/leave', { session: s.id }).catch(() => {});
  }

  async close(): Promise<void> {
    const s = this.session;
    if (s && !this.closed) {
      await this.sender.catch(() => {});
      await this.flush();
      await this.post('/v1/pull/leave', { session: s.id, end: true }).catch(() => {});
    }
    this.closed = true;
    this.abort.abort();
    this.wakePoll?.();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.loopDone;
    await this.sender.catch(() => {});
    await this.dispatcher?.close();
  }

  // ---- what the runner sends ------------------------------------------------------

  private fromRunner(m: AgentMessage): boolean {
    if (m.output?.execution_id && m.output.data) {
      const data = Buffer.from(m.output.data as Uint8Array);
      this.outputs.push({ id: m.output.execution_id, data });
      this.outputBytes += data.length;
      this.kick();
      return this.outputBytes < outputHighWater;
    }
    if (m.result?.execution_id) {
      this.results.set(m.result.execution_id, m.result);
      this.kick();
      this.wakePoll?.(); // a slot freed
    }
    return true;
  }

  /** Post what waits (output first: a result's tail assumes the output before it arrived). */
  private kick(): void {
    if (this.sending) {
      this.sendAgain = true;
      return;
    }
    this.sending = true;
    this.sender = (async () => {
      try {
        do {
          this.sendAgain = false;
          await this.flush();
        } while (this.sendAgain && !this.closed);
      } finally {
        this.sending = false;
      }
    })();
  }

  private async flush(): Promise<void> {
    const s = this.session;
    if (!s || this.closed) return;
    // Until none is left: a result must not overtake output the runner counted as sent before it.
    // Requests stay under the server's body limit: output is cut into pieces, a result's tail trimmed to what fits.
    const budget = Math.max(4096, s.maxBodyBytes - 2048);
    const pieceMax = Math.floor((budget - 512) * 3 / 4);
    while (this.outputs.length > 0 && !this.closed) {
      const chunks = this.outputs;
      this.outputs = [];
      this.outputBytes = 0;
      const merged = new Map<string, Buffer[]>();
      for (const c of chunks) merged.set(c.id, [...(merged.get(c.id) ?? []), c.data]);
      const pieces: { execution_id: string; data: string }[] = [];
      for (const [id, parts] of merged) {
        const all = Buffer.concat(parts);
        for (let at = 0; at < all.length; at += pieceMax) pieces.push({ execution_id: id, data: all.subarray(at, at + pieceMax).toString('base64') });
      }
      for (const batch of batches(pieces, budget)) {
        const ok = await this.post('/v1/pull/output', { session: s.id, chunks: batch }).then((a) => a.status === 200, () => false);
        if (!ok) {
          // Lost output: stop streaming and let every result carry its whole tail (the server keeps what it has and adds the rest).
          this.options.runner.attach(this.send, s.outputLimit);
          break;
        }
      }
      this.options.runner.drained();
    }
    if (this.results.size > 0) {
      const [batch = []] = batches([...this.results.values()].slice(0, resultBatch).map((r) => resultJson(r, pieceMax, s.errorCodes)), budget);
      let answer: Answer;
      try {
        answer = await this.post('/v1/pull/results', { session: s.id, results: batch });
      } catch {
        this.retryLater();
        return;
      }
      if (answer.status === 404) this.lostSession();
      if (answer.status !== 200) {
        this.log(`agent: posting ${batch.length} results answered ${answer.status}: ${errorText(answer.body)}`);
        this.retryLater();
        return;
      }
      const acked = (answer.body as { acknowledged?: unknown }).acknowledged;
      if (Array.isArray(acked)) for (const id of acked) if (typeof id === 'string') this.acked(id);
      if (this.results.size > 0) this.retryLater(acked !== undefined && Array.isArray(acked) && acked.length > 0 ? 0 : this.options.backoff.maxMs);
    }
  }

  private retryLater(ms = this.options.backoff.maxMs): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.kick();
    }, ms);
  }

  private acked(id: string): void {
    if (!this.results.delete(id)) return;
    this.options.runner.handle({ msg: 'ack', ack: { execution_id: id } });
  }

  // ---- registering and polling ----------------------------------------------------

  private async loop(): Promise<void> {
    const b = this.options.backoff;
    let backoff = b.minMs;
    while (!this.closed) {
      let worked = false;
      try {
        if (!this.session) await this.register();
        if (this.session) worked = await this.pollOnce(this.session);
      } catch (err) {
        if (this.closed) break;
        this.log(`agent: ${this.base}: ${err instanceof Error ? err.message : String(err)}`);
        this.rotate();
      }
      if (this.closed) break;
      if (worked) {
        backoff = b.minMs;
        continue;
      }
      await this.sleep(backoff);
      backoff = nextBackoff(backoff, b);
    }
  }

  private async register(): Promise<void> {
    const reg = this.options.runner.registration();
    const a = await this.post('/v1/pull/register', {
      node: reg.node, tags: reg.tags, executors: reg.executors, capacity: this.options.maxConcurrent, instance: reg.instance,
      version: reg.version, running: reg.running,
      secret_keys: Object.fromEntries(this.options.runner.declaredSecretKeys().map((d) => [d.executor, d.keys])),
    }, registerTimeoutMs);
    if (a.status !== 200) throw new Error(`registration answered ${a.status}: ${errorText(a.body)}`);
    const body = a.body as { session?: unknown; server?: unknown; heartbeat_ms?: unknown; max_wait_ms?: unknown; output_limit?: unknown; max_body_bytes?: unknown; error_codes?: unknown };
    if (typeof body.session !== 'string') throw new Error('the registration answer carries no session');
    const s: Session = {
      id: body.session, heartbeatMs: num(body.heartbeat_ms, 1000), maxWaitMs: num(body.max_wait_ms, 0), outputLimit: num(body.output_limit, 0),
      maxBodyBytes: num(body.max_body_bytes, 1_048_576), errorCodes: body.error_codes === true,
    };
    this.session = s;
    this.log(`agent: registered with the leader ${String(body.server)} through ${this.base} (pull)`);
    this.options.runner.attach(this.send, s.outputLimit);
    if (this.leaving) void this.post('/v1/pull/leave', { session: s.id }).catch(() => {});
    this.kick();
  }

  /** One poll; true when it brought work. */
  private async pollOnce(s: Session): Promise<boolean> {
    const runner = this.options.runner;
    let load = runner.load;
    let free = this.options.maxConcurrent - load.running - load.queued;
    if (free <= 0) {
      // Saturated: take nothing, heartbeat well within the deadline, and ask again as soon as a slot frees.
      await this.sleep(Math.max(1, Math.floor(s.heartbeatMs / 2)));
      load = runner.load;
      free = Math.max(0, this.options.maxConcurrent - load.running - load.queued);
    }
    const held = [...runner.registration().running ?? [], ...this.results.keys()];
    const wait = free > 0 ? Math.min(this.options.pollWaitMs, s.maxWaitMs) : 0;
    const a = await this.post('/v1/pull/poll', { session: s.id, running: load.running, queued: load.queued, free, held, wait_ms: wait },
      // A server that holds the poll past its wait plus a heartbeat period is given up for the next, within the deadline.
      wait + s.heartbeatMs);
    if (a.status === 404) {
      this.lostSession();
      return true; // register again at once
    }
    if (a.status !== 200) throw new Error(`poll answered ${a.status}: ${errorText(a.body)}`);
    const body = a.body as { assignments?: WireAssignment[]; stops?: string[]; acks?: string[] };
    for (const id of body.acks ?? []) this.acked(id);
    const assignments = body.assignments ?? [];
    for (const x of assignments) {
      runner.handle({
        msg: 'assign',
        assign: {
          execution_id: x.execution_id, job_name: x.job_name, executor: x.executor, config: x.config, scheduled_at_ms: String(x.scheduled_at_ms),
          attempt: x.attempt, resume_only: x.resume_only, have_output_bytes: String(x.have_output_bytes), params: x.params ?? {},
        },
      });
    }
    for (const id of body.stops ?? []) runner.handle({ msg: 'stop', stop: { execution_id: id } });
    return assignments.length > 0 || free <= 0;
  }

  private lostSession(): void {
    if (!this.session) return;
    this.log(`agent: the leader no longer knows this agent's session; registering again`);
    this.session = null;
    this.options.runner.detach(this.send);
  }

  private rotate(): void {
    const all = this.options.servers;
    this.next = (this.next + 1) % all.length;
    this.base = all[this.next] as string;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakePoll = () => {
        this.wakePoll = null;
        done();
      };
    });
  }

  /** One request to the current server; `timeoutMs`: give up on a server that accepted it and does not answer. */
  private async post(path: string, body: unknown, timeoutMs = 20_000): Promise<Answer> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.options.token) headers['authorization'] = `Bearer ${this.options.token}`;
    const timeout = timeoutMs;
    const res = await request(`${this.base}${path}`, {
      method: 'POST', headers, body: JSON.stringify(body), signal: this.abort.signal, headersTimeout: timeout, bodyTimeout: timeout,
      ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
    });
    const text = await res.body.text();
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
    return { status: res.statusCode, body: parsed };
  }
}

/** Items grouped so that each group's JSON stays under `budget` bytes (an item alone may be the whole group). */
function batches<T>(items: readonly T[], budget: number): T[][] {
  return chunksOf(items, (item) => JSON.stringify(item).length + 1, budget);
}

/** A result as JSON, its output tail cut to at most `maxTail` bytes (the end of it); its error code only to a server that takes one. */
function resultJson(r: Result, maxTail: number, errorCodes: boolean): Record<string, unknown> {
  const tail = Buffer.from((r.output_tail ?? Buffer.alloc(0)) as Uint8Array);
  return {
    execution_id: r.execution_id, success: r.success ?? false, exit_code: r.exit_code ?? 0, error: r.error ?? '',
    finished_at_ms: Number(r.finished_at_ms ?? 0), stopped: r.stopped ?? false, unknown: r.unknown ?? false,
    output_tail: tail.subarray(Math.max(0, tail.length - maxTail)).toString('base64'), output_total_bytes: Number(r.output_total_bytes ?? 0),
    ...(r.params_out && Object.keys(r.params_out).length > 0 ? { params_out: r.params_out } : {}),
    ...(errorCodes && r.error_code ? { error_code: r.error_code } : {}),
  };
}

function num(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

function errorText(body: unknown): string {
  const e = (body as { error?: { message?: unknown } } | null)?.error;
  return typeof e?.message === 'string' ? e.message : JSON.stringify(body).slice(0, 300);
}
