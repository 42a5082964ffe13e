// What a browser could make the API do for a page of another site, and the
// three checks that stop it, made before a request reaches a route:
//
// - Host: a page whose name an attacker re-points at this server (DNS
//   rebinding) sends its own name as Host, so the name must be one this
//   server answers to: loopback names, the node's host name, the names it
//   binds and advertises, its certificate's names, and --api-allowed-hosts.
//   An IP address is always accepted: rebinding needs a name, and a page
//   served from an IP address is that address's own origin.
// - Origin: a browser names the page that sent a request; a request from a
//   page of another origin is refused (the API sends no CORS headers, and
//   answers no preflight, so nothing is let through that way).
// - Content-Type: a write that carries a body must say application/json
//   (UTF-8); a form or a text/plain body (what a page may send without a
//   preflight) is refused with 415.

import { isIP } from 'node:net';
import { ApiError } from './api-error.js';

/** The names a Host header may carry (IP addresses always pass). */
export interface HostPolicy {
  /** Lower-case names, without a trailing dot. */
  readonly names: ReadonlySet<string>;
  /** From `*.example.com` entries: `.example.com` (any name below it). */
  readonly suffixes: readonly string[];
  /** `*` was given: any Host. */
  readonly any: boolean;
}

/** The names every server answers to: localhost and its subdomains, which browsers resolve to loopback themselves. */
export const loopbackNames = ['localhost', '*.localhost'];

/**
 * A policy from a list of names: `name`, `name:port` (the port is ignored),
 * `*.suffix`, `*` for any, or an IP address (accepted anyway). Throws a
 * clear error naming the entry that is none of these.
 */
export function hostPolicy(entries: readonly string[]): HostPolicy {
  const names = new Set<string>();
  const suffixes: string[] = [];
  let any = false;
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') {
      any = true;
      continue;
    }
    const wildcard = entry.startsWith('*.');
    const name = hostName(wildcard ? entry.slice(2) : entry);
    if (name === null || (wildcard && isIP(name) !== 0)) {
      throw new Error(`"${raw}" is not a host name, *.domain, * or an IP address`);
    }
    if (wildcard) suffixes.push(`.${name}`);
    else names.add(name);
  }
  return { names, suffixes, any };
}

/** The host name of a Host header value (`name`, `name:port`, `[v6]:port`), lower-case, without brackets or a trailing dot; null if it is not one. */
export function hostName(host: string): string | null {
  if (host === '' || /[\s/?#@\\]/.test(host)) return null;
  let url: URL;
  try {
    url = new URL(`http://${host}`);
  } catch {
    return null;
  }
  const name = url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  return name === '' ? null : name;
}

function allowed(name: string, policy: HostPolicy): boolean {
  if (policy.any || isIP(name) !== 0 || policy.names.has(name)) return true;
  return policy.suffixes.some((s) => name.endsWith(s));
}

/** Refuses a Host header that names a host this server does not answer to (421). No Host (HTTP/1.0) passes. */
export function checkHost(host: string | undefined, policy: HostPolicy): void {
  if (host === undefined) return;
  const name = hostName(host);
  if (name !== null && allowed(name, policy)) return;
  const shown = [...policy.names, ...policy.suffixes.map((s) => `*${s}`)].slice(0, 8).join(', ');
  throw new ApiError(
    'CT_API_HOST_NOT_ALLOWED',
    `the Host header ${JSON.stringify(host.slice(0, 200))} names no address this server answers to ` +
    `(IP addresses and ${shown}): if clients reach the API by that name, add it with --api-allowed-hosts`,
  );
}

/** Refuses a request sent by a page of another origin than the server it is addressed to (403). No Origin (not a browser) passes. */
export function checkOrigin(origin: string | undefined, host: string | undefined): void {
  if (origin === undefined) return;
  let from: URL | null = null;
  try {
    from = new URL(origin);
  } catch {
    from = null;
  }
  if (from !== null && host !== undefined && (from.protocol === 'http:' || from.protocol === 'https:')) {
    let to: string | null = null;
    try {
      to = new URL(`${from.protocol}//${host}`).host;
    } catch {
      to = null;
    }
    if (to !== null && to === from.host) return;
  }
  throw new ApiError(
    'CT_API_CROSS_ORIGIN',
    `cross-origin request refused: it comes from a page of ${JSON.stringify(origin.slice(0, 200))}, not of this server` +
    `${host === undefined ? '' : ` (${JSON.stringify(host.slice(0, 200))})`}; the API answers no cross-origin requests`,
  );
}

const writeMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Whether the request carries a body (a length above 0, or a chunked one). */
export function carriesBody(headers: { 'content-length'?: string | undefined; 'transfer-encoding'?: string | undefined }): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length.trim() !== '0';
}

/**
 * Refuses a write with a body that is not `application/json` (parameters:
 * only `charset=utf-8`) with 415; `alsoAccepted` lists other media types a
 * route takes (POST /v1/restore: Dkron's multipart form).
 */
export function checkContentType(
  method: string,
  path: string,
  headers: { 'content-type'?: string | undefined; 'content-length'?: string | undefined; 'transfer-encoding'?: string | undefined },
  alsoAccepted: readonly string[] = [],
): void {
  if (!writeMethods.has(method) || !carriesBody(headers)) return;
  const given = headers['content-type'];
  const [type = '', ...params] = (given ?? '').split(';').map((p) => p.trim().toLowerCase());
  if (alsoAccepted.includes(type)) return;
  const paramsOk = params.every((p) => p === '' || /^charset="?utf-?8"?$/.test(p));
  if (type === 'application/json' && paramsOk) return;
  const accepted = ['application/json', ...alsoAccepted].map((t) => `"${t}"`).join(' or ');
  throw new ApiError(
    'CT_API_UNSUPPORTED_MEDIA',
    given === undefined
      ? `${method} ${path} carries a body without a Content-Type: send "Content-Type: application/json"`
      : type === 'application/json'
        ? `${method} ${path}: JSON is read as UTF-8; "Content-Type: ${given.slice(0, 100)}" names another charset or parameter`
        : `${method} ${path} takes ${accepted}, not ${JSON.stringify(given.slice(0, 100))}`,
  );
}
