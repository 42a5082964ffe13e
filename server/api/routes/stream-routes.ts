// GET /v1/jobs/{name}/executions/{id}/stream: an execution's output as
// server-sent events while it runs, then its result.
//
// Events: `output` (data: the text, as a JSON string), `truncated` (output
// before what follows was dropped: the kept tail or a slow reader's backlog
// was cut), `done` (data: the execution record without its output), and
// `error` (data: an error body) when the stream cannot go on. A finished
// execution answers its stored output and `done` at once.
//
// The running output lives on the leader (its dispatcher collects the
// agents' chunks): a follower relays the leader's stream. Writes are
// coalesced and bounded: a reader slower than the output gets the newest
// `backlogBytes` and a `truncated` event, never an unbounded buffer.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ByteTail } from '../../../common/byte-tail.js';
import type { RunningExecution } from '../../dispatch/execution-runner.js';
import type { Execution } from '../../state/execution.js';
import { ApiError, errorBody } from '../api-error.js';
import { forwardedHeader, type ApiContext } from '../http-api.js';
import { executionToJson } from '../job-json.js';
import { pathParam, type Reply, type Route, type RouteRequest } from './route.js';

const backlogBytes = 1 << 20;
const chunkChars = 64 * 1024;
const flushMs = 50;
const pollMs = 200;
const heartbeatMs = 15_000;
/** How long a result may take to be committed after its run ended. */
const settleMs = 30_000;

const sseHeaders = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
};

function event(name: string, data: string): string {
  return `event: ${name}\ndata: ${data}\n\n`;
}

function outputEvents(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i += chunkChars) out += event('output', JSON.stringify(text.slice(i, i + chunkChars)));
  return out;
}

function doneEvent(e: Execution): string {
  const body = executionToJson({ ...e, output: '' });
  delete body['output'];
  return event('done', JSON.stringify(body));
}

function find(req: RouteRequest, ctx: ApiContext): Execution {
  const name = pathParam(req, 'name');
  if (!ctx.state.job(name)) throw new ApiError('CT_STATE_JOB_NOT_FOUND', `job not found: ${name}`);
  const id = pathParam(req, 'id');
  const e = ctx.state.execution(id);
  if (!e || e.jobName !== name) throw new ApiError('CT_API_EXECUTION_NOT_FOUND', `job ${name} has no execution ${id}`);
  return e;
}

function finished(e: Execution): boolean {
  return e.state !== 'pending' && e.state !== 'running';
}

/** Follow a running execution here (the leader) until its result is committed. */
function follow(ctx: ApiContext, id: string, res: ServerResponse, req: IncomingMessage): void {
  let pending = new ByteTail(backlogBytes);
  const decoder = new TextDecoder('utf-8');
  let flushTimer: NodeJS.Timeout | null = null;
  let closed = false;
  let ranOutAt = 0;
  const write = (text: string) => {
    if (!closed) res.write(text);
  };
  const flush = () => {
    flushTimer = null;
    if (closed || pending.length === 0) return;
    if (res.writableNeedDrain) {
      res.once('drain', flush);
      return;
    }
    const dropped = pending.dropped;
    const bytes = pending.bytes();
    pending = new ByteTail(backlogBytes);
    if (dropped) write(event('truncated', JSON.stringify({ reason: 'the reader fell behind the output' })));
    const text = decoder.decode(bytes, { stream: true });
    if (text !== '') write(outputEvents(text));
  };
  const onChunk = (chunk: Uint8Array) => {
    pending.write(chunk);
    flushTimer ??= setTimeout(flush, flushMs);
  };
  let followed: ReturnType<RunningExecution['output']['follow']> | null = null;
  /** Start following once the execution runs here (a pending one is not yet). */
  const attach = (): boolean => {
    const running = ctx.dispatcher.busy().find((r) => r.execution.id === id);
    if (!running) return false;
    followed = running.output.follow(onChunk);
    if (followed.dropped) write(event('truncated', JSON.stringify({ reason: 'the output is longer than the output limit: its start was dropped' })));
    const text = decoder.decode(followed.kept, { stream: true });
    if (text !== '') write(outputEvents(text));
    return true;
  };
  attach();
  const heartbeat = setInterval(() => write(': ping\n\n'), heartbeatMs);
  const stop = () => {
    closed = true;
    (followed as { stop: () => void } | null)?.stop();
    clearInterval(poll);
    clearInterval(heartbeat);
    if (flushTimer) clearTimeout(flushTimer);
  };
  const poll = setInterval(() => {
    if (followed ? ctx.dispatcher.busy().some((r) => r.execution.id === id) : attach()) return;
    const e = ctx.state.execution(id);
    if (e && finished(e)) {
      flush();
      const rest = decoder.decode();
      if (rest !== '') write(outputEvents(rest));
      if (!followed) write(outputEvents(e.output)); // it ran elsewhere (a leader before this one): its stored output
      write(doneEvent(e));
      stop();
      res.end();
      return;
    }
    if (e?.state === 'pending') return; // waiting for its turn
    ranOutAt ||= ctx.now();
    if (!e || ctx.now() - ranOutAt > settleMs) {
      write(event('error', errorBody({ code: 'CT_API_NOT_RUNNING', message: `execution ${id} is not running here and has no result yet` })));
      stop();
      res.end();
    }
  }, pollMs);
  req.once('close', stop);
  res.once('close', stop);
}

/** On a follower: relay the leader's stream as it comes. */
function relay(req: RouteRequest, open: NonNullable<ApiContext['streamFromLeader']>): Promise<Reply> {
  return open({ method: 'GET', path: req.url.pathname + req.url.search, headers: req.headers, body: Buffer.alloc(0) }).then((up) => ({
    status: up.status,
    headers: { ...sseHeaders, 'content-type': up.contentType },
    body: null,
    stream: (res: ServerResponse) => {
      res.once('close', () => up.cancel());
      void (async () => {
        try {
          for await (const chunk of up.body) {
            if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
          }
        } catch (err) {
          res.write(event('error', errorBody({ code: 'CT_CLUSTER_NOT_LEADER', message: `the leader's stream broke: ${err instanceof Error ? err.message : String(err)}` })));
        }
        res.end();
      })();
    },
  }));
}

export const streamRoutes: Route[] = [
  {
    method: 'GET',
    pattern: /^\/v1\/jobs\/(?<name>[^/]+)\/executions\/(?<id>[^/]+)\/stream$/,
    local: true,
    handle: (req, ctx) => {
      const e = find(req, ctx);
      if (finished(e)) {
        const head = e.outputTruncated ? event('truncated', JSON.stringify({ reason: 'the output is longer than the output limit: its start was dropped' })) : '';
        return { status: 200, headers: sseHeaders, body: null, stream: (res) => res.end(head + outputEvents(e.output) + doneEvent(e)) };
      }
      if (!ctx.cluster.isLeader() && ctx.streamFromLeader && req.headers[forwardedHeader] === undefined) return relay(req, ctx.streamFromLeader);
      return { status: 200, headers: sseHeaders, body: null, stream: (res, raw) => follow(ctx, e.id, res, raw) };
    },
  },
];
