// Tokens and policies in the replicated state: bootstrap once, a token needs
// existing policies, only hashes are kept, errors are stable codes, and a
// snapshot carries all of it (and an older snapshot, without ACLs, restores).

import t from 'tap';
import { CommandType, decodeCommand, encodeCommand, type Command } from '../../../server/state/commands.js';
import type { AclToken } from '../../../server/state/acl.js';
import { StateMachine, type ApplyResult } from '../../../server/state/state-machine.js';

function machine() {
  const sm = new StateMachine({ historyLimit: 5 });
  let index = 0;
  const apply = (c: Command): ApplyResult => sm.apply(decodeCommand(encodeCommand(c)), ++index);
  return { sm, apply };
}

const hash = (c: string) => c.repeat(64);
const token = (accessor: string, h: string, policies: string[] = []): AclToken => ({
  accessor, secretHash: hash(h), description: accessor, policies, management: false, createdAtMs: 0, expiresAtMs: null,
});
const code = (r: ApplyResult) => (r.ok ? 'ok' : r.error.code);

t.test('bootstrap once; tokens need bootstrap and existing policies', async (t) => {
  const { sm, apply } = machine();
  t.notOk(sm.aclEnabled);
  t.equal(code(apply({ type: CommandType.PutAclToken, atMs: 1, token: token('t0', 'a') })), 'CT_STATE_ACL_NOT_BOOTSTRAPPED');
  t.equal(code(apply({ type: CommandType.AclBootstrap, atMs: 100, token: token('root', 'b') })), 'ok');
  t.ok(sm.aclEnabled);
  t.match(sm.aclToken('root'), { management: true, createdAtMs: 100 }, 'the bootstrap token is a management token, created at the command\'s time');
  const second = apply({ type: CommandType.AclBootstrap, atMs: 200, token: token('root2', 'c') });
  t.equal(code(second), 'CT_STATE_ACL_BOOTSTRAPPED');
  t.match(second.ok ? '' : second.error.message, /already bootstrapped/);
  t.equal(sm.aclToken('root2'), undefined, 'nothing of a refused bootstrap is kept');

  t.equal(code(apply({ type: CommandType.PutAclToken, atMs: 300, token: token('t1', 'd', ['etl']) })), 'CT_STATE_ACL_POLICY_NOT_FOUND');
  t.equal(code(apply({ type: CommandType.PutAclPolicy, atMs: 310, policy: { name: 'etl', description: '', rules: { jobs: { 'etl-': 'write' } } } })), 'ok');
  t.equal(code(apply({ type: CommandType.PutAclToken, atMs: 320, token: { ...token('t1', 'd', ['etl']), expiresAtMs: 3920 } })), 'ok');
  t.match(sm.tokenByHash(hash('d')), { accessor: 't1', expiresAtMs: 3920, createdAtMs: 320 });
  t.equal(code(apply({ type: CommandType.PutAclToken, atMs: 330, token: token('t1', 'e', ['etl']) })), 'CT_STATE_ACL_INVALID', 'an accessor is unique');
  t.equal(code(apply({ type: CommandType.PutAclToken, atMs: 330, token: token('t2', 'd', ['etl']) })), 'CT_STATE_ACL_INVALID', 'a secret is unique');
  t.equal(code(apply({ type: CommandType.PutAclToken, atMs: 330, token: { ...token('t3', 'f'), secretHash: 'secret' } })), 'CT_STATE_ACL_INVALID', 'only a hash is stored');

  t.equal(code(apply({ type: CommandType.DeleteAclToken, atMs: 400, accessor: 't1' })), 'ok');
  t.equal(sm.tokenByHash(hash('d')), undefined, 'a deleted token is refused');
  t.equal(code(apply({ type: CommandType.DeleteAclToken, atMs: 400, accessor: 't1' })), 'CT_STATE_ACL_TOKEN_NOT_FOUND');
});

t.test('policies: names and levels checked; replace keeps the creation time', async (t) => {
  const { sm, apply } = machine();
  t.equal(code(apply({ type: CommandType.PutAclPolicy, atMs: 1, policy: { name: 'Bad Name', description: '', rules: { jobs: {} } } })), 'CT_STATE_ACL_INVALID');
  t.equal(code(apply({ type: CommandType.PutAclPolicy, atMs: 1, policy: { name: 'p', description: '', rules: { jobs: { a: 'admin' as 'read' } } } })), 'CT_STATE_ACL_INVALID');
  t.equal(code(apply({ type: CommandType.PutAclPolicy, atMs: 1, policy: { name: 'p', description: '', rules: { jobs: {}, operator: 'run' as 'read' } } })), 'CT_STATE_ACL_INVALID');
  t.equal(code(apply({ type: CommandType.PutAclPolicy, atMs: 10, policy: { name: 'p', description: 'one', rules: { jobs: { a: 'read' } } } })), 'ok');
  t.equal(code(apply({ type: CommandType.PutAclPolicy, atMs: 20, policy: { name: 'p', description: 'two', rules: { jobs: { a: 'write' } } } })), 'ok');
  t.match(sm.aclPolicy('p'), { description: 'two', createdAtMs: 10, updatedAtMs: 20, rules: { jobs: { a: 'write' } } });
  t.equal(code(apply({ type: CommandType.DeleteAclPolicy, atMs: 30, name: 'p' })), 'ok');
  t.equal(code(apply({ type: CommandType.DeleteAclPolicy, atMs: 30, name: 'p' })), 'CT_STATE_ACL_POLICY_NOT_FOUND');
});

t.test('a snapshot carries ACLs; one from before ACLs restores with them off', async (t) => {
  const { sm, apply } = machine();
  apply({ type: CommandType.AclBootstrap, atMs: 1, token: token('root', 'a') });
  apply({ type: CommandType.PutAclPolicy, atMs: 2, policy: { name: 'p', description: '', rules: { jobs: { '': 'read' }, acl: 'read' } } });
  apply({ type: CommandType.PutAclToken, atMs: 3, token: { ...token('t', 'b', ['p']), expiresAtMs: 99 } });
  const copy = new StateMachine({ historyLimit: 5 });
  copy.restore(sm.snapshot());
  t.ok(copy.aclEnabled);
  t.same(copy.aclTokens(), sm.aclTokens());
  t.same(copy.aclPolicies(), sm.aclPolicies());
  t.match(copy.tokenByHash(hash('b')), { accessor: 't', expiresAtMs: 99 });

  const fresh = new StateMachine({ historyLimit: 5 });
  const old = new StateMachine({ historyLimit: 5 });
  old.restore(new TextEncoder().encode(JSON.stringify({ v: 1, nextSeq: 1, appliedIndex: 0, jobs: [] })));
  t.notOk(old.aclEnabled);
  t.same(old.aclTokens(), fresh.aclTokens());
  copy.restore(old.snapshot());
  t.notOk(copy.aclEnabled, 'restoring replaces the ACLs too');
  t.same(copy.aclTokens(), []);
});
