// How a server calls another server's REST API on a caller's behalf: a write
// that reached a follower goes to the leader and its answer comes back; a
// streamed GET (server-sent events) is relayed as it comes; and another
// server's Raft position is read (for the API's list of members). The API hands
// these in its own types; the shapes here are what this side needs of them.

import { Agent, request, type Dispatcher as HttpDispatcher } from 'undici';
import { TlsFileWatch, tlsClientOptions, type TlsFiles } from '../../common/tls.js';
import { ClusterError, type ServerClusterNode } from '../cluster/cluster-node.js';
import { forwardedHeader } from '../cluster/forwarded-header.js';

/** A request that reached this server's API, to send on to another server. */
export interface RelayedRequest {
  readonly method: string;
  /** Path and query string. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/** The other server's answer, its body already serialized. */
export interface RelayedReply {
  readonly status: number;
  readonly body: string;
  readonly raw: true;
  readonly headers: Record<string, string>;
}

/** The other server's answer, its body arriving as it is written. */
export interface RelayedStream {
  readonly status: number;
  readonly contentType: string;
  readonly body: AsyncIterable<Uint8Array>;
  cancel(): void;
}

/** A server's place in the Raft log, as its GET /v1 tells it. */
export interface RaftPosition {
  readonly term: number;
  readonly commit_index: number;
  readonly applied_index: number;
}

/** How this server calls another server's API: plain HTTP, or HTTPS with its own certificate (reloaded when the files change). */
export class LeaderClient {
  private agent: Agent | null = null;
  private readonly watch: TlsFileWatch | null;
  constructor(private readonly tls: TlsFiles | null) {
    this.watch = tls ? new TlsFileWatch(tls) : null;
  }

  get scheme(): string {
    return this.tls ? 'https' : 'http';
  }

  dispatcher(): HttpDispatcher | undefined {
    if (!this.tls) return undefined;
    if (this.agent === null || this.watch?.changed()) {
      void this.agent?.close();
      this.agent = new Agent({ connect: tlsClientOptions(this.tls) });
    }
    return this.agent;
  }

  async close(): Promise<void> {
    await this.agent?.close();
  }
}

/** The headers of a call to another server's API on a caller's behalf: marked forwarded, with the caller's `keep` headers. */
export function relayedHeaders(node: Pick<ServerClusterNode<unknown>, 'nodeName'>, from: RelayedRequest['headers'], keep: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = { [forwardedHeader]: node.nodeName };
  for (const k of keep) {
    const v = from[k];
    if (typeof v === 'string') headers[k] = v;
  }
  return headers;
}

/** This server's calls to the other servers' APIs, each through the one client. */
export class LeaderForwarding {
  private readonly client: LeaderClient;

  constructor(private readonly node: ServerClusterNode<unknown>, tls: TlsFiles | null) {
    this.client = new LeaderClient(tls);
  }

  /** Send a write that reached this follower to the leader's API, and relay the answer. */
  async forward(req: RelayedRequest): Promise<RelayedReply> {
    const { leader, http } = this.leaderApi('no leader: the cluster cannot accept writes right now');
    const headers = relayedHeaders(this.node, req.headers, ['authorization', 'content-type']);
    let res;
    try {
      const dispatcher = this.client.dispatcher();
      res = await request(`${this.client.scheme}://${http}${req.path}`, { method: req.method as 'POST', headers, body: req.body.length > 0 ? req.body : null, ...(dispatcher ? { dispatcher } : {}) });
    } catch (err) {
      throw unreachable(leader, http, err);
    }
    const body = await res.body.text();
    const out: Record<string, string> = {};
    const total = res.headers['x-total-count'];
    if (typeof total === 'string') out['x-total-count'] = total;
    return { status: res.statusCode, body, raw: true, headers: out };
  }

  /** A streamed GET (server-sent events) from the leader's API, relayed as it comes. */
  async stream(req: RelayedRequest): Promise<RelayedStream> {
    const { leader, http } = this.leaderApi('no leader: the cluster cannot stream a running execution right now');
    const headers = { ...relayedHeaders(this.node, req.headers, ['authorization']), accept: 'text/event-stream' };
    const abort = new AbortController();
    let res;
    try {
      const dispatcher = this.client.dispatcher();
      res = await request(`${this.client.scheme}://${http}${req.path}`, { method: 'GET', headers, signal: abort.signal, ...(dispatcher ? { dispatcher } : {}) });
    } catch (err) {
      throw unreachable(leader, http, err);
    }
    const type = res.headers['content-type'];
    return { status: res.statusCode, contentType: typeof type === 'string' ? type : 'application/json; charset=utf-8', body: res.body, cancel: () => abort.abort() };
  }

  /** Another server's Raft position, from its GET /v1 (with the caller's token), or null after a second. */
  async peerRaftStatus(name: string, callerHeaders: RelayedRequest['headers']): Promise<RaftPosition | null> {
    const http = this.node.addressOf(name)?.http;
    if (!http) return null;
    const headers = relayedHeaders(this.node, callerHeaders, ['authorization']);
    const dispatcher = this.client.dispatcher();
    const res = await request(`${this.client.scheme}://${http}/v1`, { method: 'GET', headers, signal: AbortSignal.timeout(1000), ...(dispatcher ? { dispatcher } : {}) });
    const body = await res.body.json() as { raft?: RaftPosition };
    return res.statusCode === 200 && body.raft ? body.raft : null;
  }

  close(): Promise<void> {
    return this.client.close();
  }

  private leaderApi(none: string): { leader: string; http: string } {
    const leader = this.node.leaderName();
    const http = leader ? this.node.addressOf(leader)?.http : undefined;
    if (!leader || !http) throw new ClusterError('CT_CLUSTER_NOT_LEADER', none);
    return { leader, http };
  }
}

function unreachable(leader: string, http: string, err: unknown): ClusterError {
  return new ClusterError('CT_CLUSTER_NOT_LEADER', `cannot reach the leader ${leader} at ${http}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
