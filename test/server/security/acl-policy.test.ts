// The pure policy logic: prefix precedence, levels, several policies on one
// token, cluster levels, expiry against the request's time, the messages
// naming the missing capability, and both policy file forms.

import t from 'tap';
import type { AclToken, PolicyRules } from '../../../server/state/acl.js';
import {
  allowAll, canReadJob, clusterLevel, jobLevel, missingCapability, parsePolicy, PolicyError, tokenExpired, tokenGrants, type Grants,
} from '../../../server/security/acl-policy.js';

const grants = (...rules: PolicyRules[]): Grants => ({ all: false, by: 'acc', rules });

t.test('the longest matching prefix wins, whatever its level', async (t) => {
  const g = grants({ jobs: { '': 'read', 'etl-': 'write', 'etl-prod-': 'read', 'etl-prod-secret': 'deny' } });
  t.same(jobLevel(g, 'web-1'), { level: 'read', prefix: '' });
  t.same(jobLevel(g, 'etl-load'), { level: 'write', prefix: 'etl-' });
  t.same(jobLevel(g, 'etl-prod-load'), { level: 'read', prefix: 'etl-prod-' }, 'a longer prefix can lower the level');
  t.same(jobLevel(g, 'etl-prod-secrets'), { level: 'deny', prefix: 'etl-prod-secret' });
  t.same(jobLevel(grants({ jobs: { 'etl-': 'run' } }), 'web'), { level: 'deny', prefix: null }, 'no rule: deny');
  t.same(jobLevel(grants(), 'x'), { level: 'deny', prefix: null }, 'no policy: deny');
});

t.test('several policies: the longest prefix across all of them; on the same prefix deny wins, else the highest', async (t) => {
  const a: PolicyRules = { jobs: { 'etl-': 'read' } };
  const b: PolicyRules = { jobs: { 'etl-': 'run', 'etl-x': 'write' } };
  const c: PolicyRules = { jobs: { 'etl-': 'deny' } };
  t.equal(jobLevel(grants(a, b), 'etl-1').level, 'run');
  t.equal(jobLevel(grants(b, a), 'etl-1').level, 'run', 'order does not matter');
  t.equal(jobLevel(grants(a, b), 'etl-x1').level, 'write');
  t.equal(jobLevel(grants(a, b, c), 'etl-1').level, 'deny');
  t.equal(jobLevel(grants(c, b, a), 'etl-1').level, 'deny');
  t.equal(jobLevel(grants(a, b, c), 'etl-x1').level, 'write', 'a longer prefix beats a deny on a shorter one');
});

t.test('levels: deny < read < run < write', async (t) => {
  const need = (level: 'read' | 'run' | 'write') => ({ kind: 'job', level, from: 'path' }) as const;
  const table: [string, 'read' | 'run' | 'write', boolean][] = [
    ['deny', 'read', false], ['read', 'read', true], ['read', 'run', false], ['run', 'run', true],
    ['run', 'write', false], ['write', 'write', true], ['write', 'read', true], ['run', 'read', true],
  ];
  for (const [has, wants, ok] of table) {
    const g = grants({ jobs: { j: has as 'deny' } });
    t.equal(missingCapability(g, need(wants), 'job') === null, ok, `${has} for ${wants}`);
  }
  t.ok(canReadJob(grants({ jobs: { '': 'run' } }), 'a'));
  t.notOk(canReadJob(grants({ jobs: { '': 'deny' } }), 'a'));
});

t.test('the message names the missing capability and what the token has', async (t) => {
  const g = grants({ jobs: { 'etl-': 'read' }, operator: 'read' });
  t.equal(missingCapability(g, { kind: 'job', level: 'write', from: 'path' }, 'etl-load'),
    "this token needs write on job 'etl-load': its rule for job prefix 'etl-' grants read");
  t.equal(missingCapability(g, { kind: 'job', level: 'read', from: 'path' }, 'web'), "this token needs read on job 'web': no rule of its policies matches it");
  t.equal(missingCapability(g, { kind: 'job', level: 'write', from: 'body' }), "this token needs write on every job (prefix ''): no rule of its policies matches it");
  t.equal(missingCapability(g, { kind: 'operator', level: 'write' }), 'this token needs operator write: its policies grant operator read');
  t.equal(missingCapability(g, { kind: 'acl', level: 'read' }), 'this token needs acl read: its policies grant acl deny');
  t.equal(missingCapability(g, { kind: 'operator', level: 'read' }), null);
  for (const kind of ['open', 'any', 'jobs', 'bootstrap'] as const) t.equal(missingCapability(grants(), { kind }), null, kind);
  t.equal(missingCapability(allowAll('m'), { kind: 'acl', level: 'write' }), null, 'management may do everything');
});

t.test('cluster levels: deny in any policy wins, else the highest', async (t) => {
  t.equal(clusterLevel(grants({ jobs: {}, operator: 'read' }, { jobs: {}, operator: 'write' }), 'operator'), 'write');
  t.equal(clusterLevel(grants({ jobs: {}, operator: 'write' }, { jobs: {}, operator: 'deny' }), 'operator'), 'deny');
  t.equal(clusterLevel(grants({ jobs: {} }), 'acl'), 'deny');
  t.equal(clusterLevel(allowAll('x'), 'acl'), 'write');
});

t.test('expiry is decided by the time given, never a clock', async (t) => {
  t.notOk(tokenExpired({ expiresAtMs: null }, 1e15));
  t.notOk(tokenExpired({ expiresAtMs: 5000 }, 4999));
  t.ok(tokenExpired({ expiresAtMs: 5000 }, 5000));
  t.ok(tokenExpired({ expiresAtMs: 5000 }, 6000));
});

t.test('a token\'s grants: management is everything; a deleted policy grants nothing', async (t) => {
  const base: AclToken = { accessor: 'a1', secretHash: '0'.repeat(64), description: '', policies: ['p', 'gone'], management: false, createdAtMs: 0, expiresAtMs: null };
  const g = tokenGrants(base, (n) => (n === 'p' ? { rules: { jobs: { x: 'read' } } } : undefined));
  t.same(g, { all: false, by: 'a1', rules: [{ jobs: { x: 'read' } }] });
  t.same(tokenGrants({ ...base, management: true }, () => undefined), { all: true, by: 'a1', rules: [] });
});

t.test('policy files: our form', async (t) => {
  t.same(parsePolicy({ description: 'etl', jobs: { 'etl-': 'write', '': 'read' }, operator: 'read', acl: 'deny' }),
    { description: 'etl', rules: { jobs: { 'etl-': 'write', '': 'read' }, operator: 'read', acl: 'deny' } });
  t.same(parsePolicy({}), { description: '', rules: { jobs: {} } });
  t.same(parsePolicy({ rules: JSON.stringify({ jobs: { a: 'run' } }) }), { description: '', rules: { jobs: { a: 'run' } } }, 'Dkron\'s {name, rules: "<json>"}');
  const bad: [unknown, string, RegExp][] = [
    [[], 'policy', /JSON object/],
    [{ jobz: {} }, 'jobz', /unknown policy field "jobz"/],
    [{ jobs: { a: 'admin' } }, 'jobs', /level "admin" is not one of deny, read, run, write/],
    [{ jobs: [] }, 'jobs', /prefix -> level/],
    [{ operator: 'run' }, 'operator', /operator: level "run" is not one of deny, read, write/],
    [{ description: 3 }, 'description', /string/],
    [{ rules: 'path "/v1/*" { capabilities = ["read"] }' }, 'rules', /HCL is not read/],
  ];
  for (const [doc, field, message] of bad) {
    let caught: unknown = null;
    try {
      parsePolicy(doc);
    } catch (err) {
      caught = err;
    }
    t.ok(caught instanceof PolicyError, `${JSON.stringify(doc)} is refused`);
    t.match(caught, { field, code: 'CT_STATE_ACL_INVALID', message });
  }
});

t.test('policy files: Dkron Pro\'s path rules map onto the same rules', async (t) => {
  const p = parsePolicy({
    path: {
      '/v1/jobs/etl-*': { capabilities: ['read', 'update'] },
      '/v1/jobs/report': { capabilities: ['read', 'run'] },
      '/v1/jobs/*': { capabilities: ['list', 'read'] },
      '/v1/raft/*': { capabilities: ['read'] },
      '/v1/acl/*': { capabilities: ['deny'] },
    },
  });
  t.same(p.rules, { jobs: { 'etl-': 'write', report: 'run', '': 'read' }, operator: 'read', acl: 'deny' });
  t.same(parsePolicy({ path: { '/v1/*': { capabilities: ['read'] } } }).rules, { jobs: { '': 'read' }, operator: 'read', acl: 'read' });
  t.same(parsePolicy({ jobs: { 'a-': 'write' }, path: { '/v1/jobs/a-*': { capabilities: ['deny'] } } }).rules, { jobs: { 'a-': 'deny' } }, 'both forms: deny wins on the same prefix');
  t.throws(() => parsePolicy({ path: { '/v1/secrets/*': { capabilities: ['read'] } } }), /path "\/v1\/secrets\/\*" is not one Clocktower maps/);
  t.throws(() => parsePolicy({ path: { '/v1/jobs/*': { capabilities: ['sing'] } } }), /unknown capability "sing"/);
  t.throws(() => parsePolicy({ path: { '/v1/jobs/a*b*': { capabilities: ['read'] } } }), /one \* at the end/);
  t.throws(() => parsePolicy({ path: { '/v1/jobs/*': {} } }), /needs capabilities/);
});
