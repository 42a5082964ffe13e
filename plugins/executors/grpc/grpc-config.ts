// The grpc executor's configuration: Dkron's keys (url, body, headers,
// timeout, expectCode) plus protoFile, tls and tlsInsecureSkipVerify, all
// strings, parsed leniently and checked with messages that say what is wrong.

import * as grpc from '@grpc/grpc-js';
import { parseTimeoutMs } from '../../sdk/execution-deadline.js';
import { parseGoBool } from '../../sdk/go-bool.js';

export interface GrpcConfig {
  readonly address: string;
  readonly service: string;
  readonly method: string;
  readonly body: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly timeoutMs: number;
  readonly expectCode: grpc.status;
  readonly protoFile: string;
  readonly tls: boolean;
  readonly tlsInsecureSkipVerify: boolean;
}

export const defaultTimeoutMs = 30_000;


const statusNames = Object.entries(grpc.status).filter(([, v]) => typeof v === 'number') as [string, number][];

export function statusName(code: number): string {
  return statusNames.find(([, v]) => v === code)?.[0] ?? String(code);
}

/** A gRPC status by number (5) or name (NOT_FOUND, not_found, NotFound). */
export function parseStatus(text: string | undefined): grpc.status {
  const s = (text ?? '').trim();
  if (s === '') return grpc.status.OK;
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n <= 16) return n;
  } else {
    const wanted = s.replace(/_/g, '').toUpperCase();
    const found = statusNames.find(([name]) => name.replace(/_/g, '') === wanted);
    if (found) return found[1];
  }
  throw new Error(`expectCode must be a gRPC status code 0-16 or its name (e.g. NOT_FOUND), not "${text}"`);
}

/**
 * Headers as Dkron writes them — a JSON array of "key: value" — or a JSON
 * object, or "key: value" items separated by commas or newlines.
 */
export function parseHeaders(text: string | undefined): [string, string][] {
  const s = (text ?? '').trim();
  if (s === '') return [];
  const pair = (item: string): [string, string] => {
    const colon = item.indexOf(':');
    if (colon <= 0) throw new Error(`header "${item}" is not "key: value"`);
    return [item.slice(0, colon).trim().toLowerCase(), item.slice(colon + 1).trim()];
  };
  if (s.startsWith('[') || s.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(s);
    } catch (err) {
      throw new Error(`headers are not valid JSON: ${(err as Error).message}`);
    }
    if (Array.isArray(parsed)) {
      return parsed.map((item) => {
        if (typeof item !== 'string') throw new Error(`headers must be a JSON array of "key: value" strings, found ${JSON.stringify(item)}`);
        return pair(item);
      });
    }
    return Object.entries(parsed as object).map(([k, v]) => [k.trim().toLowerCase(), String(v)]);
  }
  return s.split(/[\n,]/).map((item) => item.trim()).filter(Boolean).map(pair);
}

/** "host:port/package.Service/Method" */
export function parseUrl(text: string | undefined): { address: string; service: string; method: string } {
  const s = (text ?? '').trim();
  if (s === '') throw new Error('url is required (host:port/package.Service/Method)');
  const m = /^(?:grpcs?:\/\/)?([^/\s]+:\d+)\/([\w.]+)\/(\w+)$/.exec(s);
  if (!m?.[1] || !m[2] || !m[3]) throw new Error(`url "${text}" is not host:port/package.Service/Method`);
  return { address: m[1], service: m[2], method: m[3] };
}

/** The parsed config; throws an Error saying what is wrong. */
export function parseGrpcConfig(c: Readonly<Record<string, string>>): GrpcConfig {
  return {
    ...parseUrl(c['url']),
    body: c['body'] ?? '',
    headers: parseHeaders(c['headers']),
    timeoutMs: parseTimeoutMs(c['timeout'], defaultTimeoutMs),
    expectCode: parseStatus(c['expectCode']),
    protoFile: (c['protoFile'] ?? '').trim(),
    tls: parseGoBool('tls', c['tls']),
    tlsInsecureSkipVerify: parseGoBool('tlsInsecureSkipVerify', c['tlsInsecureSkipVerify']),
  };
}

export function validateGrpcConfig(c: Readonly<Record<string, string>>): string | null {
  try {
    const config = parseGrpcConfig(c);
    if (config.body.trim() !== '') JSON.parse(config.body);
    return null;
  } catch (err) {
    return err instanceof SyntaxError ? `body is not valid JSON: ${err.message}` : (err as Error).message;
  }
}
