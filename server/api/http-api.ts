// The REST API: Dkron's /v1 routes over node:http. Requests are read whole
// up to a size limit (413 beyond it), answered with JSON, and every error is
// JSON `{ "error": { "code", "message", "field"? } }` with the status from
// the one table in api-error.ts.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { readTlsFiles, TlsFileWatch, tlsRefreshMs, type TlsFiles } from '../../common/tls.js';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ClusterNode } from '../cluster/cluster-node.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { CommandLog } from '../state/command-log.js';
import type { StateMachine } from '../state/state-machine.js';
import { ApiError, errorBody, httpStatusOf } from './api-error.js';
import { clusterRoutes } from './routes/cluster-routes.js';
import { jobRoutes } from './routes/job-routes.js';
import { executionRoutes } from './routes/execution-routes.js';
import { agentRoutes } from './routes/agent-routes.js';
import { pullRoutes } from './routes/pull-routes.js';
import type { PullAgents } from '../dispatch/pull-agents.js';
import type { AgentStatus } from '../dispatch/agent-executor-host.js';
import { raftRoutes } from './routes/raft-routes.js';
import type { ClusterAdmin } from '../cluster/cluster-admin.js';
import { pluginRoutes, type PluginListing } from './routes/plugin-routes.js';
import { metricsRoutes } from './routes/metrics-routes.js';
import { pauseRoutes } from './routes/pause-routes.js';
import { statsRoutes } from './routes/stats-routes.js';
import { aclRoutes } from './routes/acl-routes.js';
import { runRoutes } from './routes/run-routes.js';
import { routeRules } from './route-rules.js';
import { CallerResolver, unauthorized } from './acl-auth.js';
import { missingCapability, type Grants, type Requirement } from '../security/acl-policy.js';
import { scheduleRoutes } from './routes/schedule-routes.js';
import { streamRoutes } from './routes/stream-routes.js';
import { uiRoutes } from './routes/ui-routes.js';
import { odmRoutes } from './routes/odm-routes.js';
import type { Reply, Route, RouteRequest } from './routes/route.js';
import { ConnectionLimit, defaultMaxConnections } from './connection-limit.js';
import { checkContentType, checkHost, checkOrigin, hostPolicy, loopbackNames, type HostPolicy } from './request-guard.js';
import { forwardedHeader } from '../cluster/forwarded-header.js';

export interface ApiOptions {
  readonly nodeName: string;
  readonly version: string;
  readonly state: StateMachine;
  readonly log: CommandLog;
  readonly dispatcher: Dispatcher;
  readonly cluster: ClusterNode<unknown>;
  readonly now: () => number;
  /**
   * When set, every request needs `Authorization: Bearer <token>` while ACLs
   * are off; once they are on (acl bootstrap), it is a management token.
   */
  readonly apiToken?: string | undefined;
  /** Request bodies larger than this are refused with 413. */
  readonly maxBodyBytes: number;
  /**
   * In a cluster: send a write that reached a follower to the leader's API
   * and return its answer. Without it, a follower refuses writes (503).
   */
  readonly forwardToLeader?: (request: ForwardedRequest) => Promise<Reply>;
  /** In a cluster: wait until this server's state is linearizable (ReadIndex); `?stale` skips it. */
  readonly readBarrier?: () => Promise<void>;
  /** In a cluster: peers, remove-peer and leave. */
  readonly admin?: ClusterAdmin;
  /** Open API connections at most (default: half the open-file limit); see ConnectionLimit. */
  readonly maxConnections?: number;
  /** The executors and processors this node has (GET /v1/plugins). */
  readonly plugins?: PluginListing;
  /**
   * The executor_config keys an executor declares secret (a plugin's
   * declaration), redacted with the keys named like a secret; null while the
   * declaration is not known yet (every value is then redacted). Absent: the
   * name rule alone.
   */
  readonly secretKeys?: (executor: string) => readonly string[] | null;
  /** Settles once this node's plugin programs have told their secret keys (or failed to start); job reads wait for it. */
  readonly secretKeysKnown?: Promise<void>;
  /** In a cluster: the agents connected to this server (the leader). */
  readonly agents?: () => AgentStatus[];
  /** In a cluster: the pull agents' sessions (POST /v1/pull/...), served by the leader. */
  readonly pull?: PullAgents;
  /** GET /metrics, and the count and latency of every request. */
  readonly metrics?: ApiMetrics;
  /** HTTPS with a client certificate from the CA required (re-read when the files change); null: plain HTTP. */
  readonly tls?: TlsFiles | null;
  /** The names a request's Host may carry (IP addresses always pass); default: the loopback names. */
  readonly allowedHosts?: HostPolicy;
  /**
   * In a cluster: open a streamed answer (server-sent events) from the
   * leader's API, for what only the leader has (a running execution's output).
   */
  readonly streamFromLeader?: (request: ForwardedRequest) => Promise<StreamedReply>;
  /** This server's Raft position (absent on etcd, whose members have no Raft of ours). */
  readonly raftStatus?: () => RaftPosition;
  /** In a cluster: another server's Raft position, asked from its own API (null: it did not answer in time). */
  readonly peerRaftStatus?: (name: string, headers: IncomingMessage['headers']) => Promise<RaftPosition | null>;
}

/** A server's Raft position, as GET /v1 and /v1/members show it. */
export interface RaftPosition {
  readonly term: number;
  readonly commit_index: number;
  readonly applied_index: number;
}

/** An answer whose body arrives as it is written. */
export interface StreamedReply {
  readonly status: number;
  readonly contentType: string;
  readonly body: AsyncIterable<Uint8Array>;
  /** Stop reading (the client went away). */
  cancel(): void;
}

/** What the API needs from a metrics registry. */
export interface ApiMetrics {
  /** Everything, in the Prometheus text format. */
  text(): Promise<string>;
  readonly contentType: string;
  /** One answered request; `route` is the route's pattern (`/v1/jobs/{name}`), never the raw path. */
  request(method: string, route: string, status: number, seconds: number): void;
}

export interface ForwardedRequest {
  readonly method: string;
  /** Path and query string. */
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

/** Marks a request forwarded once, so it is never forwarded again. */
export { forwardedHeader };

export type ApiContext = ApiOptions;

/** Every route the API serves, in matching order. */
export const apiRoutes: readonly Route[] = [
  ...clusterRoutes, ...metricsRoutes, ...raftRoutes, ...pluginRoutes, ...jobRoutes, ...executionRoutes, ...agentRoutes, ...pullRoutes, ...pauseRoutes, ...statsRoutes, ...runRoutes, ...aclRoutes, ...scheduleRoutes, ...streamRoutes, ...odmRoutes, ...uiRoutes,
];

/** A route's key in the access-rule table: `GET /v1/jobs/{name}`. */
export function routeKey(route: Pick<Route, 'method' | 'pattern'>): string {
  return `${route.method} ${routeLabel(route.pattern)}`;
}

/** Refused for want of a rule: a route missing from route-rules.ts is for management tokens only. */
const noRule: Requirement = { kind: 'operator', level: 'write' };

export class HttpApi {
  private readonly routes: readonly Route[];
  /** Each route's pattern as a label: `/v1/jobs/{name}`. */
  private readonly labels: { pattern: RegExp; label: string }[];
  private readonly rules: Map<Route, Requirement>;
  private readonly callers: CallerResolver;
  private readonly server: Server;
  private readonly connections: ConnectionLimit;
  private readonly reload: NodeJS.Timeout | null = null;
  private readonly hosts: HostPolicy;

  constructor(private readonly ctx: ApiContext) {
    this.routes = apiRoutes;
    this.labels = [...new Set(this.routes.map((r) => r.pattern))].map((pattern) => ({ pattern, label: routeLabel(pattern) }));
    this.rules = new Map(this.routes.map((r) => [r, routeRules[routeKey(r)] ?? noRule]));
    this.callers = new CallerResolver(ctx.state, ctx.apiToken);
    this.hosts = ctx.allowedHosts ?? hostPolicy(loopbackNames);
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    const tls = ctx.tls ?? null;
    if (tls) {
      const https: HttpsServer = createHttpsServer({ ...readTlsFiles(tls), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, handler);
      const watch = new TlsFileWatch(tls);
      this.reload = setInterval(() => {
        if (!watch.changed()) return;
        try {
          https.setSecureContext({ ...readTlsFiles(tls), minVersion: 'TLSv1.2' });
        } catch {
          watch.forget(); // half-written files: the next check tries again
        }
      }, tlsRefreshMs);
      this.reload.unref();
      this.server = https;
    } else {
      this.server = createServer(handler);
    }
    this.server.keepAliveTimeout = 65_000;
    // Slow-header and slow-body clients are cut off instead of holding sockets.
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 60_000;
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => answerClientError(err, socket));
    this.connections = new ConnectionLimit(this.server, ctx.maxConnections ?? defaultMaxConnections());
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  close(): Promise<void> {
    if (this.reload) clearInterval(this.reload);
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.once('finish', () => this.connections.answered(req.socket));
    const started = performance.now();
    let reply: Reply;
    try {
      reply = await this.route(req);
    } catch (err) {
      reply = errorReply(err);
      if (reply.status === 413) res.setHeader('connection', 'close');
    }
    if (reply.stream) {
      res.writeHead(reply.status, reply.headers);
      reply.stream(res, req);
      res.once('close', () => this.ctx.metrics?.request(req.method ?? '', this.labelOf(req.url ?? '/'), reply.status, (performance.now() - started) / 1000));
      return;
    }
    const pretty = (req.url ?? '').includes('pretty');
    const body = Buffer.isBuffer(reply.body) || (typeof reply.body === 'string' && (reply.raw || reply.contentType)) ? (reply.body as string | Buffer) : JSON.stringify(reply.body, null, pretty ? 2 : undefined);
    res.writeHead(reply.status, { 'content-type': reply.contentType ?? 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), ...reply.headers });
    res.end(body);
    this.ctx.metrics?.request(req.method ?? '', this.labelOf(req.url ?? '/'), reply.status, (performance.now() - started) / 1000);
  }

  /** The pattern of the route a request target matches, or "unmatched" (the label's values stay few). */
  private labelOf(target: string): string {
    const q = target.indexOf('?');
    const raw = q >= 0 ? target.slice(0, q) : target;
    const path = raw.length > 1 ? raw.replace(/\/+$/, '') : raw;
    return this.labels.find((l) => l.pattern.test(path))?.label ?? 'unmatched';
  }

  private async route(req: IncomingMessage): Promise<Reply> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      throw new ApiError('CT_API_BAD_REQUEST', `the request target is not a valid URL: ${JSON.stringify((req.url ?? '').slice(0, 200))}`);
    }
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    // /health stays open to probes and load balancers, whatever name they use.
    if (path !== '/health') {
      checkHost(req.headers.host, this.hosts);
      checkOrigin(req.headers.origin, req.headers.host);
    }
    let pathMatched = false;
    let route: Route | undefined;
    let match: RegExpExecArray | null = null;
    for (const r of this.routes) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== req.method) continue;
      route = r;
      match = m;
      break;
    }
    const need = route ? (this.rules.get(route) ?? noRule) : null;
    const open = need?.kind === 'open' || (need?.kind === 'bootstrap' && this.ctx.state.aclEnabled);
    const grants = open ? null : await this.caller(req);
    if (!route || !match || !need) {
      if (pathMatched) throw new ApiError('CT_API_METHOD_NOT_ALLOWED', `${req.method ?? ''} is not allowed on ${path}`);
      throw new ApiError('CT_API_NOT_FOUND', `no such route: ${req.method ?? ''} ${path}`);
    }
    checkContentType(route.method, path, req.headers, route.alsoAccepts);
    const body = route.body ? await readBody(req, this.ctx.maxBodyBytes) : Buffer.alloc(0);
    const params = (match.groups ?? {}) as Record<string, string>;
    if (grants) this.authorize(grants, need, params, body);
    this.connections.answering(req.socket);
    // A follower forwards writes, and what only the leader knows, to the leader (which checks the caller again).
    const forward = route.leader === true || (!route.local && route.method !== 'GET');
    if (forward && this.ctx.forwardToLeader && !this.ctx.cluster.isLeader() && req.headers[forwardedHeader] === undefined) {
      try {
        return await this.ctx.forwardToLeader({ method: route.method, path: url.pathname + url.search, headers: req.headers, body });
      } catch (err) {
        if (!route.local) throw err; // a local route answers from what this server knows
      }
    }
    if (!route.local && route.method === 'GET' && this.ctx.readBarrier && !url.searchParams.has('stale')) await this.ctx.readBarrier();
    const request: RouteRequest = { params, query: url.searchParams, body, headers: req.headers, url, caller: grants?.by ?? 'anonymous', grants: grants ?? openGrants };
    // Job answers are redacted by the plugins' declared secret keys: right after start, reads wait until the plugins
    // have told them (writes need not: a value redacted meanwhile is kept as stored, see restoreRedacted).
    if (this.ctx.secretKeysKnown && route.method === 'GET' && path.startsWith('/v1/jobs')) await this.ctx.secretKeysKnown;
    return await route.handle(request, this.ctx);
  }

  /**
   * Who asks (401 if nobody the server accepts). A token this server does
   * not know yet may be one the leader just created: a follower catches up
   * (ReadIndex) and looks again before refusing it.
   */
  private async caller(req: IncomingMessage): Promise<Grants> {
    let res = this.callers.resolve(req.headers, this.ctx.now());
    if (!res.ok && res.unknownToken && this.ctx.readBarrier && !this.ctx.cluster.isLeader()) {
      await this.ctx.readBarrier().catch(() => {});
      res = this.callers.resolve(req.headers, this.ctx.now());
    }
    if (!res.ok) throw unauthorized(res.message);
    return res.grants;
  }

  /** 403 naming the missing capability. */
  private authorize(grants: Grants, need: Requirement, params: Record<string, string>, body: Buffer): void {
    let jobName: string | undefined;
    if (need.kind === 'job') {
      jobName = need.from === 'path' ? decodeParam(params['name'] ?? '')
        : need.from === 'run' ? this.ctx.state.run(decodeParam(params['id'] ?? ''))?.rootJob
        : nameInBody(body, need.from === 'taskType' ? 'taskType' : 'name');
    }
    const missing = missingCapability(grants, need, jobName);
    if (missing !== null) throw new ApiError('CT_API_FORBIDDEN', `permission denied: ${missing}`);
  }
}

/** A route that needs no caller (health) sees one that may do nothing. */
const openGrants: Grants = { all: false, by: 'anonymous', rules: [] };

function decodeParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** The job a POST /v1/jobs body names (or an ODM task's `taskType`; undefined: none, so the rule for every job decides). */
function nameInBody(body: Buffer, field: 'name' | 'taskType'): string | undefined {
  try {
    const doc: unknown = JSON.parse(body.toString('utf8'));
    if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) {
      const name = (doc as Record<string, unknown>)[field];
      if (typeof name === 'string') return name;
    }
  } catch {
    // not JSON: the handler says so to a caller that may write every job
  }
  return undefined;
}

/** `/^\/v1\/jobs\/(?<name>[^/]+)$/` -> `/v1/jobs/{name}`. */
export function routeLabel(pattern: RegExp): string {
  return pattern.source.replace(/^\^/, '').replace(/\$$/, '').replace(/\(\?<(\w+)>[^)]*\)/g, '{$1}').replaceAll('\\/', '/');
}

/** Node's HTTP parser refused the request: answer JSON like every other error, then close. */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const tooBig = err.code === 'HPE_HEADER_OVERFLOW';
  const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  const status = tooBig ? 431 : timeout ? 408 : 400;
  const reason = tooBig ? 'Request Header Fields Too Large' : timeout ? 'Request Timeout' : 'Bad Request';
  const body = errorBody({
    code: tooBig ? 'CT_API_HEADERS_TOO_LARGE' : timeout ? 'CT_API_REQUEST_TIMEOUT' : 'CT_API_BAD_REQUEST',
    message: tooBig ? 'the request headers are too large' : timeout ? 'the request took too long to arrive' : `the request could not be parsed (${err.code ?? 'bad request'})`,
  });
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

function errorReply(err: unknown): Reply {
  if (err instanceof Error && typeof (err as { code?: unknown }).code === 'string') {
    const e = err as Error & { code: string; field?: string };
    return { status: httpStatusOf(e.code), body: errorBody(e), raw: true };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { status: 500, body: errorBody({ code: 'CT_API_INTERNAL', message }), raw: true };
}

/** Read a request body, refusing more than `limit` bytes without buffering them. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) {
    req.resume();
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

function tooLarge(limit: number): ApiError {
  return new ApiError('CT_API_BODY_TOO_LARGE', `request body is larger than the limit of ${limit} bytes`);
}
