// What a route is, and the small helpers every route uses.

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { ApplyResult } from '../../state/state-machine.js';
import { ApiError } from '../api-error.js';
import type { ApiContext } from '../http-api.js';
import type { Grants } from '../../security/acl-policy.js';

export interface RouteRequest {
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly body: Buffer;
  readonly headers: IncomingHttpHeaders;
  readonly url: URL;
  /**
   * Who asks, as recorded in a job's versions: the token's accessor once
   * ACLs are on, `api-token` for a request that showed the API token,
   * `anonymous` otherwise. A follower forwards the caller's own headers, so
   * the leader sees the same.
   */
  readonly caller: string;
  /** What the caller may do (lists hold only the jobs it may read). */
  readonly grants: Grants;
}

export interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
  /** `body` is already serialized JSON. */
  readonly raw?: boolean;
  /** Not JSON: `body` is a string sent as it is, with this content type. */
  readonly contentType?: string;
  /**
   * A long answer written as it comes (server-sent events): the status and
   * headers are sent, then this writes the body and ends the response.
   */
  readonly stream?: (res: ServerResponse, req: IncomingMessage) => void;
}

export interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  /** Read the request body (POST/PUT). */
  readonly body?: boolean;
  /**
   * Answered by this server from what it knows itself: never forwarded to
   * the leader, and no read barrier (health, membership, leadership).
   */
  readonly local?: boolean;
  /**
   * Only the leader knows the whole answer (the agents connected to it): a
   * follower forwards the request. With `local`, a follower that cannot reach
   * a leader answers from what it knows.
   */
  readonly leader?: boolean;
  /** Media types a body may have besides application/json (e.g. multipart/form-data). */
  readonly alsoAccepts?: readonly string[];
  handle(req: RouteRequest, ctx: ApiContext): Promise<Reply> | Reply;
}

/** A path parameter, percent-decoded; bad percent-encoding is a 400, not a 500. */
export function pathParam(req: RouteRequest, name: string): string {
  const raw = req.params[name] ?? '';
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ApiError('CT_API_BAD_PATH', `the path parameter ${name} is not valid percent-encoding: ${JSON.stringify(raw)}`, name);
  }
}

/** A sort key looked up among a table's own keys (never `__proto__`, `valueOf` and the like). */
export function ownKey<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

export function json(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return headers ? { status, body, headers } : { status, body };
}

export function parseJson(body: Buffer): unknown {
  if (body.length === 0) throw new ApiError('CT_API_BAD_JSON', 'the request body is empty: send a JSON document');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new ApiError('CT_API_BAD_JSON', `malformed JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Turn a refused command into its error; return the successful result. */
export function accepted(res: ApplyResult): Extract<ApplyResult, { ok: true }> {
  if (!res.ok) throw res.error;
  return res;
}

/** Writes go through the leader; a node that cannot commit says so. */
export function requireLeader(ctx: ApiContext): void {
  if (!ctx.cluster.isLeader()) {
    const leader = ctx.cluster.leaderName();
    throw new ApiError('CT_CLUSTER_NOT_LEADER', leader ? `this server is not the leader; the leader is ${leader}` : 'no leader: the cluster cannot accept writes right now');
  }
}
