// Lint rules, including the import directions of DESIGN.md ("who may import whom").
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ours = (...folders) => folders.flatMap((f) => [`**/${f}/**`, `**/${f}`]);
const nodeBuiltins = ['node:*', 'fs', 'fs/*', 'net', 'http', 'https', 'child_process', 'dgram', 'os', 'path', 'crypto', 'timers', 'timers/*'];

/** A folder may import only what DESIGN.md allows it to. */
function layer(files, forbidden, message, extra = {}) {
  return {
    files,
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: forbidden, message }] }],
      ...extra,
    },
  };
}

const pureGlobals = {
  'no-restricted-syntax': [
    'error',
    { selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']", message: 'pure code takes time as a parameter' },
    { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'pure code takes time as a parameter' },
    { selector: "CallExpression[callee.object.name='Math'][callee.property.name='random']", message: 'pure code takes randomness as a parameter' },
  ],
  'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask', 'process'],
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'proto/generated/**', 'data/**', '.tap/**', '.mutants/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-properties': ['error', { object: 't', property: 'only', message: 'no .only in committed tests' }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  layer(['proto/**/*.ts'], ours('server', 'agent', 'plugins', 'bin', 'test', 'bench'), 'proto/ imports nothing of ours'),
  layer(['common/**/*.ts'], ours('proto', 'server', 'agent', 'plugins', 'bin', 'test', 'bench'), 'common/ imports nothing of ours'),
  layer(['server/raft/**/*.ts'], [...ours('storage', 'cluster', 'state', 'scheduler', 'dispatch', 'api', 'observe', 'agent', 'plugins', 'bin', 'proto'), ...nodeBuiltins],
    'server/raft is pure: nothing of ours, no I/O', pureGlobals),
  layer(['server/state/**/*.ts'], [...ours('raft', 'storage', 'cluster', 'scheduler', 'dispatch', 'api', 'observe', 'agent', 'plugins', 'bin', 'proto'), ...nodeBuiltins],
    'server/state is pure: nothing of ours, no I/O', pureGlobals),
  layer(['server/scheduler/**/*.ts'], [...ours('raft', 'storage', 'cluster', 'dispatch', 'api', 'observe', 'agent', 'plugins', 'bin', 'proto'), ...nodeBuiltins],
    'server/scheduler is pure: it may import server/state only', pureGlobals),
  layer(['server/security/**/*.ts'], [...ours('raft', 'storage', 'cluster', 'scheduler', 'dispatch', 'api', 'observe', 'agent', 'plugins', 'bin', 'proto'), ...nodeBuiltins],
    'server/security holds pure policy checks: it may import common and server/state only', pureGlobals),
  layer(['server/storage/**/*.ts'], ours('state', 'cluster', 'scheduler', 'dispatch', 'api', 'observe', 'agent', 'plugins', 'bin', 'proto'),
    'server/storage may import server/raft types only'),
  layer(['server/cluster/**/*.ts'], ours('state', 'scheduler', 'dispatch', 'api', 'observe', 'agent', 'plugins', 'bin'),
    'server/cluster may import proto, server/raft and server/storage only (metrics arrive through RaftMetrics)'),
  layer(['server/store-etcd/**/*.ts'], ours('state', 'scheduler', 'dispatch', 'api', 'observe', 'agent', 'plugins', 'bin'),
    'server/store-etcd may import server/cluster (its interface) only'),
  // proto/generated/clocktower/agent/ is proto, not the agent/ folder.
  layer(['server/dispatch/**/*.ts'], [...ours('raft', 'storage', 'cluster', 'api', 'observe', 'agent', 'plugins', 'bin'), '!**/proto/generated/**'],
    'server/dispatch may import proto, server/state and server/scheduler only'),
  // The server's lifecycle: start, lead, follow, drain, leave, forwarding to the leader. The own agent (agent/ code) is composed in bin/.
  layer(['server/node/**/*.ts'], [...ours('api', 'agent', 'plugins', 'bin'), '!**/proto/generated/**'],
    'server/node may import proto, common and server/* but server/api (not agent/, plugins/ or bin/)'),
  layer(['server/api/**/*.ts'], ours('raft', 'storage', 'scheduler', 'observe', 'agent', 'plugins', 'bin'),
    'server/api may import server/state, server/cluster and server/dispatch only'),
  // The metrics registry and the logger: the parts receive them by injection, through small interfaces of their own.
  layer(['server/observe/**/*.ts'], ours('proto', 'raft', 'storage', 'cluster', 'state', 'scheduler', 'dispatch', 'api', 'agent', 'plugins', 'bin'),
    'server/observe may import common only'),
  // The web UI talks to the REST API over HTTP only: it imports nothing of ours outside ui/.
  layer(['ui/**/*.ts'], [...ours('proto', 'common', 'server', 'agent', 'plugins', 'bin', 'test', 'bench'), ...nodeBuiltins], 'ui/ uses the REST API only, over HTTP'),
  layer(['agent/**/*.ts'], ours('server', 'bin', 'executors', 'processors'), 'agent/ may import proto and plugins/sdk only'),
  layer(['plugins/sdk/**/*.ts'], ours('server', 'agent', 'bin', 'executors', 'processors'), 'plugins/sdk may import proto only'),
  layer(['plugins/executors/**/*.ts', 'plugins/processors/**/*.ts'], ours('server', 'agent', 'bin', 'proto', 'executors', 'processors').filter((p) => !p.includes('executors') && !p.includes('processors')),
    'a plugin may import plugins/sdk only'),
);
