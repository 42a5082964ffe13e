// Who is asking: the bearer token of a request, resolved against the
// `--api-token` and the ACL tokens in the replicated state. Secrets are
// compared as SHA-256 hashes with timingSafeEqual, and never appear in an
// error message or a log line.

import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { anonymousPolicyName } from '../state/acl.js';
import type { StateMachine } from '../state/state-machine.js';
import { allowAll, tokenExpired, tokenGrants, type Grants } from '../security/acl-policy.js';
import { ApiError } from './api-error.js';

export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** A new token: its secret (shown once), the secret's hash (stored) and an accessor id. */
export function newTokenSecret(): { secret: string; secretHash: string; accessor: string } {
  const secret = `ct-${randomBytes(24).toString('base64url')}`;
  return { secret, secretHash: hashSecret(secret).toString('hex'), accessor: randomUUID() };
}

/** The secret a request shows: `Authorization: Bearer S`, or Dkron Pro's `X-Dkron-Token: S`. */
export function bearerOf(headers: IncomingHttpHeaders): string | null {
  const auth = headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice('Bearer '.length);
  const dkron = headers['x-dkron-token'];
  if (typeof dkron === 'string' && dkron !== '') return dkron;
  return null;
}

/** The outcome of resolving a caller: its grants, or why it is refused (401) and whether a fresher state could change that. */
export type Resolution = { ok: true; grants: Grants } | { ok: false; message: string; unknownToken: boolean };

export class CallerResolver {
  private readonly apiTokenHash: Buffer | null;

  constructor(private readonly state: StateMachine, apiToken: string | undefined) {
    this.apiTokenHash = apiToken ? hashSecret(apiToken) : null;
  }

  resolve(headers: IncomingHttpHeaders, nowMs: number): Resolution {
    const secret = bearerOf(headers);
    const hash = secret === null ? null : hashSecret(secret);
    if (hash && this.apiTokenHash && timingSafeEqual(hash, this.apiTokenHash)) return { ok: true, grants: allowAll('api-token') };
    if (!this.state.aclEnabled) {
      if (!this.apiTokenHash) return { ok: true, grants: allowAll('anonymous') };
      return { ok: false, message: 'missing or wrong API token: send "Authorization: Bearer <token>"', unknownToken: hash !== null };
    }
    if (hash === null) {
      const anonymous = this.state.aclPolicy(anonymousPolicyName);
      if (anonymous) return { ok: true, grants: { all: false, by: 'anonymous', rules: [anonymous.rules] } };
      return { ok: false, message: 'this request needs a token (ACLs are on): send "Authorization: Bearer <secret>"', unknownToken: false };
    }
    const token = this.state.tokenByHash(hash.toString('hex'));
    if (!token || !timingSafeEqual(Buffer.from(token.secretHash, 'hex'), hash)) {
      return { ok: false, message: 'unknown token: no token has the secret this request sent', unknownToken: true };
    }
    if (tokenExpired(token, nowMs)) {
      return { ok: false, message: `token ${token.accessor} expired at ${new Date(token.expiresAtMs ?? 0).toISOString()}`, unknownToken: false };
    }
    return { ok: true, grants: tokenGrants(token, (name) => this.state.aclPolicy(name)) };
  }
}

export function unauthorized(message: string): ApiError {
  return new ApiError('CT_API_UNAUTHORIZED', message);
}
