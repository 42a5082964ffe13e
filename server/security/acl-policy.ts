// Access control decisions, pure: what a caller may do, given the rules of
// its policies. No clock (expiry takes `now`), no I/O, no hashing (the API
// hashes secrets and compares them in constant time).
//
// Job rules grant by job-name prefix with levels deny < read < run < write;
// for a job, the longest prefix that matches wins, and when several of a
// token's policies name that same prefix, deny wins over everything, else
// the highest level. No matching prefix: deny. `operator` (raft, members,
// agents, leave, restore, pause, metrics) and `acl` (tokens and policies)
// are cluster levels deny < read < write; deny in any policy wins.

import { clusterLevels, jobLevels, type AclToken, type ClusterLevel, type JobLevel, type PolicyRules } from '../state/acl.js';

/** Who asks and what they may do. */
export interface Grants {
  /** Everything is allowed: ACLs are off, or a management token (or `--api-token`). */
  readonly all: boolean;
  /** Recorded as who made a change: a token accessor, `api-token` or `anonymous`. */
  readonly by: string;
  /** The rules of the caller's policies (empty with `all`). */
  readonly rules: readonly PolicyRules[];
}

export const allowAll = (by: string): Grants => ({ all: true, by, rules: [] });

/** What a route needs. */
export type Requirement =
  /** No token at all (health, callbacks). */
  | { readonly kind: 'open' }
  /** Any caller the server accepts (a valid token, or the anonymous policy). */
  | { readonly kind: 'any' }
  /**
   * A level on the job the path (`{name}`), the body (`name`) or an ODM task's
   * body (`taskType`) names, or the root job of the run the path (`{id}`) names.
   */
  | { readonly kind: 'job'; readonly level: Exclude<JobLevel, 'deny'>; readonly from: 'path' | 'body' | 'taskType' | 'run' }
  /** A list of jobs or executions: any caller, and the answer holds only the jobs it may read. */
  | { readonly kind: 'jobs' }
  | { readonly kind: 'operator'; readonly level: Exclude<ClusterLevel, 'deny'> }
  | { readonly kind: 'acl'; readonly level: Exclude<ClusterLevel, 'deny'> }
  /** `acl bootstrap`: whoever may use the server while ACLs are off; refused by the state once they are on. */
  | { readonly kind: 'bootstrap' };

const jobRank: Record<JobLevel, number> = { deny: 0, read: 1, run: 2, write: 3 };
const clusterRank: Record<ClusterLevel, number> = { deny: 0, read: 1, write: 2 };

/** The level a caller has on one job, and the prefix that decided it (null: no rule matched). */
export function jobLevel(grants: Grants, jobName: string): { level: JobLevel; prefix: string | null } {
  if (grants.all) return { level: 'write', prefix: '' };
  let best: string | null = null;
  let level: JobLevel = 'deny';
  for (const rules of grants.rules) {
    for (const [prefix, l] of Object.entries(rules.jobs)) {
      if (!jobName.startsWith(prefix)) continue;
      if (best === null || prefix.length > best.length) {
        best = prefix;
        level = l;
      } else if (prefix === best && level !== 'deny' && (l === 'deny' || jobRank[l] > jobRank[level])) {
        level = l;
      }
    }
  }
  return { level, prefix: best };
}

export function canReadJob(grants: Grants, jobName: string): boolean {
  return jobRank[jobLevel(grants, jobName).level] >= jobRank.read;
}

/** The caller's operator or acl level: deny in any policy wins, else the highest. */
export function clusterLevel(grants: Grants, area: 'operator' | 'acl'): ClusterLevel {
  if (grants.all) return 'write';
  let level: ClusterLevel = 'deny';
  for (const rules of grants.rules) {
    const l = rules[area];
    if (l === 'deny') return 'deny';
    if (l !== undefined && clusterRank[l] > clusterRank[level]) level = l;
  }
  return level;
}

/**
 * Why a caller may not do what a route needs, naming the missing
 * capability; null when it may. `jobName` is the job the path or body
 * names (undefined: none given, so the rule for every job, prefix "", decides).
 */
export function missingCapability(grants: Grants, need: Requirement, jobName?: string): string | null {
  if (grants.all) return null;
  switch (need.kind) {
    case 'open':
    case 'any':
    case 'jobs':
    case 'bootstrap':
      return null;
    case 'job': {
      const name = jobName ?? '';
      const { level, prefix } = jobLevel(grants, name);
      if (jobRank[level] >= jobRank[need.level]) return null;
      const what = jobName === undefined ? `every job (prefix '')` : `job '${name}'`;
      const had = prefix === null ? 'no rule of its policies matches it' : `its rule for job prefix '${prefix}' grants ${level}`;
      return `this token needs ${need.level} on ${what}: ${had}`;
    }
    case 'operator':
    case 'acl': {
      const level = clusterLevel(grants, need.kind);
      if (clusterRank[level] >= clusterRank[need.level]) return null;
      return `this token needs ${need.kind} ${need.level}: its policies grant ${need.kind} ${level}`;
    }
  }
}

/** A token past its expiry is refused; `now` is the request's time. */
export function tokenExpired(token: Pick<AclToken, 'expiresAtMs'>, nowMs: number): boolean {
  return token.expiresAtMs !== null && nowMs >= token.expiresAtMs;
}

/** The grants of a token: a management token may do everything; policies that no longer exist grant nothing. */
export function tokenGrants(token: AclToken, policy: (name: string) => { rules: PolicyRules } | undefined): Grants {
  if (token.management) return allowAll(token.accessor);
  const rules: PolicyRules[] = [];
  for (const name of token.policies) {
    const p = policy(name);
    if (p) rules.push(p.rules);
  }
  return { all: false, by: token.accessor, rules };
}

// ---- policy files ------------------------------------------------------------

/** A policy file that cannot be understood: the message names the field. */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  readonly code = 'CT_STATE_ACL_INVALID';
  constructor(message: string, readonly field: string) {
    super(message);
  }
}

/**
 * A policy as a user writes it, in either form:
 *
 *   { "description": "...", "jobs": { "etl-": "write", "etl-prod-": "read" }, "operator": "read", "acl": "deny" }
 *
 * or Dkron Pro's path rules, `{ "path": { "/v1/jobs/etl-*": { "capabilities": ["read", "update"] } } }`,
 * mapped onto the same rules (see pathRules).
 */
export function parsePolicy(value: unknown): { description: string; rules: PolicyRules } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new PolicyError('a policy is a JSON object', 'policy');
  const doc = value as Record<string, unknown>;
  const known = new Set(['name', 'description', 'jobs', 'operator', 'acl', 'path', 'rules']);
  for (const key of Object.keys(doc)) if (!known.has(key)) throw new PolicyError(`unknown policy field ${JSON.stringify(key)}: use description, jobs, operator, acl (or Dkron's path)`, key);
  const description = doc['description'] ?? '';
  if (typeof description !== 'string') throw new PolicyError('description must be a string', 'description');
  // Dkron Pro's API sends { name, rules: "<JSON or HCL text>" }: JSON rules are read here.
  if (doc['rules'] !== undefined) {
    let inner: unknown = doc['rules'];
    if (typeof inner === 'string') {
      try {
        inner = JSON.parse(inner);
      } catch {
        throw new PolicyError('rules must be a JSON object (or a string holding one); HCL is not read', 'rules');
      }
    }
    const parsed = parsePolicy(inner);
    return { description: description || parsed.description, rules: parsed.rules };
  }
  const jobs: Record<string, JobLevel> = Object.create(null) as Record<string, JobLevel>;
  let operator: ClusterLevel | undefined;
  let acl: ClusterLevel | undefined;
  if (doc['jobs'] !== undefined) {
    const j = doc['jobs'];
    if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new PolicyError('jobs must be an object of job-name prefix -> level', 'jobs');
    for (const [prefix, level] of Object.entries(j as Record<string, unknown>)) {
      if (typeof level !== 'string' || !jobLevels.includes(level as JobLevel)) {
        throw new PolicyError(`jobs[${JSON.stringify(prefix)}]: level ${JSON.stringify(level)} is not one of ${jobLevels.join(', ')}`, 'jobs');
      }
      jobs[prefix] = level as JobLevel;
    }
  }
  for (const area of ['operator', 'acl'] as const) {
    const level = doc[area];
    if (level === undefined) continue;
    if (typeof level !== 'string' || !clusterLevels.includes(level as ClusterLevel)) {
      throw new PolicyError(`${area}: level ${JSON.stringify(level)} is not one of ${clusterLevels.join(', ')}`, area);
    }
    if (area === 'operator') operator = level as ClusterLevel;
    else acl = level as ClusterLevel;
  }
  if (doc['path'] !== undefined) {
    const fromPaths = pathRules(doc['path']);
    for (const [prefix, level] of Object.entries(fromPaths.jobs)) jobs[prefix] = combineJob(jobs[prefix], level);
    if (fromPaths.operator !== undefined) operator = combineCluster(operator, fromPaths.operator);
    if (fromPaths.acl !== undefined) acl = combineCluster(acl, fromPaths.acl);
  }
  const rules: { jobs: Record<string, JobLevel>; operator?: ClusterLevel; acl?: ClusterLevel } = { jobs: { ...jobs } };
  if (operator !== undefined) rules.operator = operator;
  if (acl !== undefined) rules.acl = acl;
  return { description, rules };
}

function combineJob(a: JobLevel | undefined, b: JobLevel): JobLevel {
  if (a === undefined) return b;
  if (a === 'deny' || b === 'deny') return 'deny';
  return jobRank[a] >= jobRank[b] ? a : b;
}

function combineCluster(a: ClusterLevel | undefined, b: ClusterLevel): ClusterLevel {
  if (a === undefined) return b;
  if (a === 'deny' || b === 'deny') return 'deny';
  return clusterRank[a] >= clusterRank[b] ? a : b;
}

const operatorPaths = /^\/v1\/(raft|members|agents|leave|restore|pause|unpause|leader|isleader)(\/|\*|$)/;

/**
 * Dkron Pro's path rules. Capabilities map to a level: `deny` -> deny;
 * `create`, `update`, `delete` (or `write`, `sudo`) -> write; `run` -> run;
 * `read`, `list` -> read. Paths: `/v1/jobs/PREFIX*` (or `/v1/jobs/NAME`,
 * read as a prefix) -> jobs under PREFIX; `/v1/jobs`, `/v1/jobs/*` -> every
 * job; `/v1/acl...` -> acl; `/v1/raft...`, `/v1/members`, `/v1/agents`,
 * `/v1/leave`, `/v1/restore`, `/v1/pause` -> operator; `/v1/*` or `*` ->
 * all three. Any other path is an error that names it.
 */
export function pathRules(value: unknown): PolicyRules {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new PolicyError('path must be an object of path -> { capabilities: [...] }', 'path');
  const jobs: Record<string, JobLevel> = {};
  let operator: ClusterLevel | undefined;
  let acl: ClusterLevel | undefined;
  for (const [path, rule] of Object.entries(value as Record<string, unknown>)) {
    const caps = typeof rule === 'object' && rule !== null ? (rule as Record<string, unknown>)['capabilities'] : undefined;
    if (!Array.isArray(caps) || caps.some((c) => typeof c !== 'string')) {
      throw new PolicyError(`path ${JSON.stringify(path)}: needs capabilities, an array of strings`, 'path');
    }
    const level = capabilityLevel(caps as string[], path);
    const asCluster: ClusterLevel = level === 'run' ? 'read' : level;
    if (path === '*' || path === '/*' || path === '/v1/*' || path === '/v1' || path === '/v1/') {
      jobs[''] = combineJob(jobs[''], level);
      operator = combineCluster(operator, asCluster);
      acl = combineCluster(acl, asCluster);
    } else if (/^\/v1\/jobs(\/\*?|\*)?$/.test(path)) {
      jobs[''] = combineJob(jobs[''], level);
    } else if (path.startsWith('/v1/jobs/')) {
      const prefix = path.slice('/v1/jobs/'.length).replace(/\*$/, '');
      if (prefix.includes('*') || prefix.includes('/')) throw new PolicyError(`path ${JSON.stringify(path)}: a job path is /v1/jobs/PREFIX*, one * at the end`, 'path');
      jobs[prefix] = combineJob(jobs[prefix], level);
    } else if (/^\/v1\/acl(\/|\*|$)/.test(path)) {
      acl = combineCluster(acl, asCluster);
    } else if (operatorPaths.test(path)) {
      operator = combineCluster(operator, asCluster);
    } else {
      throw new PolicyError(`path ${JSON.stringify(path)} is not one Clocktower maps: use /v1/jobs/PREFIX*, /v1/acl/*, /v1/raft/*, /v1/members, /v1/restore, /v1/pause or /v1/*`, 'path');
    }
  }
  const rules: { jobs: Record<string, JobLevel>; operator?: ClusterLevel; acl?: ClusterLevel } = { jobs };
  if (operator !== undefined) rules.operator = operator;
  if (acl !== undefined) rules.acl = acl;
  return rules;
}

function capabilityLevel(caps: readonly string[], path: string): JobLevel {
  let level: JobLevel | null = null;
  for (const c of caps) {
    const l: JobLevel | undefined = c === 'deny' ? 'deny'
      : c === 'create' || c === 'update' || c === 'delete' || c === 'write' || c === 'sudo' ? 'write'
        : c === 'run' ? 'run'
          : c === 'read' || c === 'list' ? 'read' : undefined;
    if (l === undefined) throw new PolicyError(`path ${JSON.stringify(path)}: unknown capability ${JSON.stringify(c)} (use read, list, run, create, update, delete or deny)`, 'path');
    level = level === null ? l : combineJob(level, l);
  }
  if (level === null) throw new PolicyError(`path ${JSON.stringify(path)}: capabilities is empty`, 'path');
  return level;
}
