// The pull agents' protocol (README, "Pull agents"): register, poll (the
// heartbeat, and assignments up to the agent's free slots), output, results
// (acknowledged once committed) and leave. All POST with a JSON body; a
// follower forwards them to the leader, and a server that cannot reach one
// answers 503 so the agent tries again (through any server).

import { randomUUID } from 'node:crypto';
import type { PullAgents, PullRegistration, PullResult } from '../../dispatch/pull-agents.js';
import { ApiError } from '../api-error.js';
import type { ApiContext } from '../http-api.js';
import { json, parseJson, type Route, type RouteRequest } from './route.js';
import { ExecErrorCode } from '../../../common/error-codes.js';

type Doc = Record<string, unknown>;

function doc(req: RouteRequest, fields: readonly string[]): Doc {
  const d = parseJson(req.body);
  if (typeof d !== 'object' || d === null || Array.isArray(d)) throw new ApiError('CT_API_BAD_JSON', 'the body must be a JSON object');
  const unknown = Object.keys(d).find((k) => !fields.includes(k));
  if (unknown !== undefined) throw new ApiError('CT_API_UNKNOWN_FIELD', `unknown field ${JSON.stringify(unknown)}: the fields are ${fields.join(', ')}`, unknown);
  return d as Doc;
}

function bad(field: string, what: string): never {
  throw new ApiError('CT_API_INVALID_FIELD', `${field} must be ${what}`, field);
}

function str(d: Doc, field: string, fallback?: string): string {
  const v = d[field];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'string') bad(field, 'a string');
  return v;
}

function int(d: Doc, field: string, fallback: number, min = 0): number {
  const v = d[field];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) bad(field, `an integer of at least ${min}`);
  return v;
}

function bool(d: Doc, field: string): boolean {
  const v = d[field];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') bad(field, 'true or false');
  return v;
}

function strings(d: Doc, field: string): string[] {
  const v = d[field];
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) bad(field, 'an array of strings');
  return v;
}

function objects(d: Doc, field: string): Doc[] {
  const v = d[field];
  if (!Array.isArray(v) || !v.every((x): x is Doc => typeof x === 'object' && x !== null && !Array.isArray(x))) bad(field, 'an array of objects');
  return v;
}

function stringMap(d: Doc, field: string): Record<string, string> {
  const v = d[field];
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) bad(field, 'an object of string values');
  return { ...(v as Record<string, string>) };
}

/** Bytes given as base64 (`field`) or as UTF-8 text (`textField`). */
function bytes(d: Doc, field: string, textField: string, at: string): Buffer {
  const b = d[field];
  const t = d[textField];
  if (b !== undefined && t !== undefined) bad(`${at}.${field}`, `given alone, not with ${textField}`);
  if (t !== undefined) {
    if (typeof t !== 'string') bad(`${at}.${textField}`, 'a string');
    return Buffer.from(t, 'utf8');
  }
  if (b === undefined) return Buffer.alloc(0);
  if (typeof b !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(b)) bad(`${at}.${field}`, 'base64');
  return Buffer.from(b, 'base64');
}

function pull(ctx: ApiContext): PullAgents {
  if (!ctx.pull) throw new ApiError('CT_API_NOT_FOUND', 'this server runs no agents (light mode): pull agents join a cluster server (clocktower agent --server)');
  return ctx.pull;
}

const registerFields = ['node', 'tags', 'executors', 'capacity', 'instance', 'version', 'running', 'secret_keys'];

/** `secret_keys`: {executor: [keys]}, the executor_config keys its executors declare secret. */
function secretKeys(d: Doc): { executor: string; keys: string[] }[] {
  const v = d['secret_keys'];
  if (v === undefined) return [];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad('secret_keys', 'an object of executor names to arrays of key names');
  return Object.entries(v as Record<string, unknown>).map(([executor, keys]) => {
    if (!Array.isArray(keys) || !keys.every((k): k is string => typeof k === 'string' && k !== '')) bad(`secret_keys.${executor}`, 'an array of key names');
    return { executor, keys };
  });
}
const pollFields = ['session', 'running', 'queued', 'free', 'held', 'wait_ms'];
const outputFields = ['session', 'chunks'];
const resultsFields = ['session', 'results'];
const resultFields = ['execution_id', 'success', 'exit_code', 'error', 'finished_at_ms', 'stopped', 'unknown', 'output_tail', 'output_tail_text', 'output_total_bytes', 'params_out', 'error_code'];
const maxBatch = 10_000;

function result(r: Doc, i: number): PullResult {
  const at = `results[${i}]`;
  const unknown = Object.keys(r).find((k) => !resultFields.includes(k));
  if (unknown !== undefined) throw new ApiError('CT_API_UNKNOWN_FIELD', `unknown field ${at}.${unknown}: the fields are ${resultFields.join(', ')}`, `${at}.${unknown}`);
  const id = r['execution_id'];
  if (typeof id !== 'string' || id === '') bad(`${at}.execution_id`, 'a non-empty string');
  if (typeof r['success'] !== 'boolean') bad(`${at}.success`, 'true or false');
  const exit = r['exit_code'] ?? (r['success'] ? 0 : -1);
  if (typeof exit !== 'number' || !Number.isInteger(exit) || Math.abs(exit) > 2 ** 31) bad(`${at}.exit_code`, 'an integer');
  const tail = bytes(r, 'output_tail', 'output_tail_text', at);
  const total = int(r, 'output_total_bytes', tail.length);
  if (total < tail.length) bad(`${at}.output_total_bytes`, 'at least the length of the output tail');
  const error = r['error'] ?? '';
  if (typeof error !== 'string') bad(`${at}.error`, 'a string');
  // A worker that names none: a stop is CT_EXEC_STOPPED (the server derives CT_EXEC_FAILED for other failures).
  const stopped = bool(r, 'stopped');
  const errorCode = r['error_code'] ?? (stopped && r['success'] !== true ? ExecErrorCode.Stopped : '');
  if (typeof errorCode !== 'string' || !/^[A-Z0-9_]{0,64}$/.test(errorCode)) bad(`${at}.error_code`, 'a code such as CT_EXEC_FAILED');
  return {
    execution_id: id, success: r['success'], exit_code: exit, error, finished_at_ms: String(int(r, 'finished_at_ms', 0)),
    stopped, unknown: bool(r, 'unknown'), output_tail: tail, output_total_bytes: String(total), params_out: paramsOut(r, at),
    error_code: errorCode as string,
  };
}

/** `params_out`: the parameters a task hands downstream (`::set-param`), an object of strings. */
function paramsOut(r: Doc, at: string): Record<string, string> {
  const v = r['params_out'];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) bad(`${at}.params_out`, 'an object of strings');
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== 'string') bad(`${at}.params_out.${k}`, 'a string');
    out[k] = x as string;
  }
  return out;
}

export const pullRoutes: Route[] = [
  {
    method: 'POST',
    pattern: /^\/v1\/pull\/register$/,
    body: true,
    handle: (req, ctx) => {
      const d = doc(req, registerFields);
      const node = str(d, 'node');
      if (node === '') bad('node', 'a non-empty node name');
      const reg: PullRegistration = {
        node, tags: stringMap(d, 'tags'), executors: strings(d, 'executors'), capacity: int(d, 'capacity', 1000, 1),
        instance: str(d, 'instance', randomUUID()), version: str(d, 'version', ''), running: strings(d, 'running'), secret_keys: secretKeys(d),
        // A pull agent's answers are HTTP bodies, not stream messages: never batched.
        accepts_batches: false,
      };
      // The largest body this server takes: an agent keeps its output and results requests under it.
      // error_codes: results may carry error_code (an older server refuses the field, so agents send it only when told).
      return json(200, { ...pull(ctx).register(reg), max_body_bytes: ctx.maxBodyBytes, error_codes: true });
    },
  },
  {
    method: 'POST',
    pattern: /^\/v1\/pull\/poll$/,
    body: true,
    handle: async (req, ctx) => {
      const d = doc(req, pollFields);
      const held = d['held'] === undefined ? undefined : strings(d, 'held');
      const answer = await pull(ctx).poll(str(d, 'session'), {
        running: int(d, 'running', 0), queued: int(d, 'queued', 0), free: int(d, 'free', 0), waitMs: int(d, 'wait_ms', 0),
        ...(held ? { held } : {}),
      });
      return json(200, answer);
    },
  },
  {
    method: 'POST',
    pattern: /^\/v1\/pull\/output$/,
    body: true,
    handle: (req, ctx) => {
      const d = doc(req, outputFields);
      const chunks = objects(d, 'chunks').map((c, i) => {
        const id = c['execution_id'];
        if (typeof id !== 'string' || id === '') bad(`chunks[${i}].execution_id`, 'a non-empty string');
        const extra = Object.keys(c).find((k) => !['execution_id', 'data', 'text'].includes(k));
        if (extra !== undefined) throw new ApiError('CT_API_UNKNOWN_FIELD', `unknown field chunks[${i}].${extra}: the fields are execution_id, data, text`);
        return { executionId: id, data: bytes(c, 'data', 'text', `chunks[${i}]`) };
      });
      pull(ctx).output(str(d, 'session'), chunks);
      return json(200, { received: chunks.length });
    },
  },
  {
    method: 'POST',
    pattern: /^\/v1\/pull\/results$/,
    body: true,
    handle: async (req, ctx) => {
      const d = doc(req, resultsFields);
      const list = objects(d, 'results');
      if (list.length > maxBatch) bad('results', `at most ${maxBatch} results`);
      const results = list.map(result);
      const acknowledged = await pull(ctx).results(str(d, 'session'), results);
      return json(200, { acknowledged });
    },
  },
  {
    method: 'POST',
    pattern: /^\/v1\/pull\/leave$/,
    body: true,
    handle: (req, ctx) => {
      const d = doc(req, ['session', 'end']);
      pull(ctx).leave(str(d, 'session'), bool(d, 'end'));
      return json(200, { left: true });
    },
  },
];
