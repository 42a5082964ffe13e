// /v1/acl: bootstrap, tokens and policies. Secrets are drawn here, on the
// leader (a follower forwards every write), and only their SHA-256 hash is
// committed; the secret is in the answer to the request that created it
// and nowhere else.

import { CommandType } from '../../state/commands.js';
import type { AclPolicy, AclToken } from '../../state/acl.js';
import { parsePolicy } from '../../security/acl-policy.js';
import { ApiError } from '../api-error.js';
import type { ApiContext } from '../http-api.js';
import { newTokenSecret } from '../acl-auth.js';
import { iso } from '../job-json.js';
import { accepted, json, parseJson, pathParam, requireLeader, type Route, type RouteRequest } from './route.js';

export function tokenJson(t: AclToken, nowMs: number): Record<string, unknown> {
  return {
    accessor: t.accessor,
    description: t.description,
    policies: t.policies,
    management: t.management,
    created_at: iso(t.createdAtMs),
    expires_at: iso(t.expiresAtMs),
    expired: t.expiresAtMs !== null && nowMs >= t.expiresAtMs,
  };
}

function policyJson(p: AclPolicy): Record<string, unknown> {
  return { name: p.name, description: p.description, ...p.rules, created_at: iso(p.createdAtMs), updated_at: iso(p.updatedAtMs) };
}

function mustToken(req: RouteRequest, ctx: ApiContext): AclToken {
  const accessor = pathParam(req, 'accessor');
  const t = ctx.state.aclToken(accessor);
  if (!t) throw new ApiError('CT_STATE_ACL_TOKEN_NOT_FOUND', `token not found: accessor ${accessor}`);
  return t;
}

function mustPolicy(req: RouteRequest, ctx: ApiContext): AclPolicy {
  const name = pathParam(req, 'name');
  const p = ctx.state.aclPolicy(name);
  if (!p) throw new ApiError('CT_STATE_ACL_POLICY_NOT_FOUND', `policy not found: ${name}`);
  return p;
}

function objectBody(req: RouteRequest, allowEmpty: boolean): Record<string, unknown> {
  if (req.body.length === 0 && allowEmpty) return {};
  const body = parseJson(req.body);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError('CT_API_BAD_JSON', 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

async function bootstrap(req: RouteRequest, ctx: ApiContext) {
  requireLeader(ctx);
  const body = objectBody(req, true);
  for (const key of Object.keys(body)) if (key !== 'description') throw new ApiError('CT_API_UNKNOWN_FIELD', `unknown field ${JSON.stringify(key)}: bootstrap takes a description only`, key);
  const description = body['description'] ?? 'bootstrap management token';
  if (typeof description !== 'string') throw new ApiError('CT_API_INVALID_FIELD', 'description must be a string', 'description');
  const { secret, secretHash, accessor } = newTokenSecret();
  const atMs = ctx.now();
  const token: AclToken = { accessor, secretHash, description, policies: [], management: true, createdAtMs: atMs, expiresAtMs: null };
  accepted(await ctx.log.submit({ type: CommandType.AclBootstrap, atMs, token }));
  return json(201, { ...tokenJson(token, atMs), secret });
}

async function createToken(req: RouteRequest, ctx: ApiContext) {
  requireLeader(ctx);
  const body = objectBody(req, false);
  const known = new Set(['policies', 'description', 'ttl', 'management']);
  for (const key of Object.keys(body)) if (!known.has(key)) throw new ApiError('CT_API_UNKNOWN_FIELD', `unknown field ${JSON.stringify(key)}: use policies, description, ttl, management`, key);
  const policies = body['policies'] ?? [];
  if (!Array.isArray(policies) || policies.some((p) => typeof p !== 'string' || p === '')) {
    throw new ApiError('CT_API_INVALID_FIELD', 'policies must be an array of policy names', 'policies');
  }
  const management = body['management'] ?? false;
  if (typeof management !== 'boolean') throw new ApiError('CT_API_INVALID_FIELD', 'management must be true or false', 'management');
  if (management && !req.grants.all) throw new ApiError('CT_API_FORBIDDEN', 'only a management token may create a management token', 'management');
  if (!management && policies.length === 0) throw new ApiError('CT_API_INVALID_FIELD', 'a token needs at least one policy (or management: true)', 'policies');
  const description = body['description'] ?? '';
  if (typeof description !== 'string') throw new ApiError('CT_API_INVALID_FIELD', 'description must be a string', 'description');
  const ttl = body['ttl'];
  let ttlMs: number | null = null;
  if (ttl !== undefined && ttl !== null && ttl !== '') {
    if (typeof ttl !== 'string') throw new ApiError('CT_API_INVALID_FIELD', 'ttl must be a Go duration such as "1h" or "30m"', 'ttl');
    try {
      ttlMs = ctx.dispatcher.schedules.parseDurationMs(ttl);
    } catch (err) {
      throw new ApiError('CT_API_INVALID_FIELD', `ttl: ${err instanceof Error ? err.message : String(err)}`, 'ttl');
    }
    if (!(ttlMs > 0)) throw new ApiError('CT_API_INVALID_FIELD', 'ttl must be longer than 0', 'ttl');
  }
  const { secret, secretHash, accessor } = newTokenSecret();
  const atMs = ctx.now();
  const token: AclToken = {
    accessor, secretHash, description, policies: [...new Set(policies as string[])], management, createdAtMs: atMs, expiresAtMs: ttlMs === null ? null : atMs + ttlMs,
  };
  accepted(await ctx.log.submit({ type: CommandType.PutAclToken, atMs, token }));
  return json(201, { ...tokenJson(token, atMs), secret });
}

async function applyPolicy(req: RouteRequest, ctx: ApiContext) {
  requireLeader(ctx);
  const name = pathParam(req, 'name');
  const body = objectBody(req, false);
  if (body['name'] !== undefined && body['name'] !== name) {
    throw new ApiError('CT_API_INVALID_FIELD', `the body names policy ${JSON.stringify(body['name'])} but the path names ${JSON.stringify(name)}`, 'name');
  }
  const { description, rules } = parsePolicy(body);
  accepted(await ctx.log.submit({ type: CommandType.PutAclPolicy, atMs: ctx.now(), policy: { name, description, rules } }));
  return json(200, policyJson(mustPolicy(req, ctx)));
}

export const aclRoutes: Route[] = [
  { method: 'POST', pattern: /^\/v1\/acl\/bootstrap$/, body: true, handle: bootstrap },
  {
    method: 'GET',
    pattern: /^\/v1\/acl\/token\/self$/,
    handle: (req, ctx) => {
      const t = ctx.state.aclToken(req.grants.by);
      if (t) return json(200, tokenJson(t, ctx.now()));
      return json(200, { accessor: req.grants.by, description: '', policies: [], management: req.grants.all, created_at: null, expires_at: null, expired: false });
    },
  },
  { method: 'GET', pattern: /^\/v1\/acl\/tokens$/, handle: (_req, ctx) => json(200, ctx.state.aclTokens().map((t) => tokenJson(t, ctx.now()))) },
  { method: 'POST', pattern: /^\/v1\/acl\/tokens$/, body: true, handle: createToken },
  { method: 'GET', pattern: /^\/v1\/acl\/tokens\/(?<accessor>[^/]+)$/, handle: (req, ctx) => json(200, tokenJson(mustToken(req, ctx), ctx.now())) },
  {
    method: 'DELETE',
    pattern: /^\/v1\/acl\/tokens\/(?<accessor>[^/]+)$/,
    handle: async (req, ctx) => {
      requireLeader(ctx);
      const t = mustToken(req, ctx);
      accepted(await ctx.log.submit({ type: CommandType.DeleteAclToken, atMs: ctx.now(), accessor: t.accessor }));
      return json(200, tokenJson(t, ctx.now()));
    },
  },
  { method: 'GET', pattern: /^\/v1\/acl\/policies$/, handle: (_req, ctx) => json(200, ctx.state.aclPolicies().map(policyJson)) },
  { method: 'GET', pattern: /^\/v1\/acl\/policies\/(?<name>[^/]+)$/, handle: (req, ctx) => json(200, policyJson(mustPolicy(req, ctx))) },
  { method: 'POST', pattern: /^\/v1\/acl\/policies\/(?<name>[^/]+)$/, body: true, handle: applyPolicy },
  { method: 'PUT', pattern: /^\/v1\/acl\/policies\/(?<name>[^/]+)$/, body: true, handle: applyPolicy },
  {
    method: 'DELETE',
    pattern: /^\/v1\/acl\/policies\/(?<name>[^/]+)$/,
    handle: async (req, ctx) => {
      requireLeader(ctx);
      const p = mustPolicy(req, ctx);
      accepted(await ctx.log.submit({ type: CommandType.DeleteAclPolicy, atMs: ctx.now(), name: p.name }));
      return json(200, policyJson(p));
    },
  },
];
