// --plugin-dir from flags, the environment and the config file, and the defaults.

import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, parseLightConfig, type LightConfig } from '../../bin/light-config.js';
import { parseAgentConfig } from '../../bin/agent-config.js';

const dirs = (argv: string[], env: Record<string, string> = {}) => (parseLightConfig(argv, env, '0') as LightConfig).pluginDirs;

t.test('repeatable flag, in order, made absolute', async (t) => {
  t.same(dirs(['--plugin-dir', '/opt/a', '--plugin-dir', 'rel']), ['/opt/a', resolve('rel')]);
});

t.test('environment: comma-separated; flags win', async (t) => {
  t.same(dirs([], { CLOCKTOWER_PLUGIN_DIR: '/x,/y' }), ['/x', '/y']);
  t.same(dirs(['--plugin-dir', '/z'], { CLOCKTOWER_PLUGIN_DIR: '/x,/y' }), ['/z']);
});

t.test('config file: a list or one directory; the default is next to it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ct-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const list = join(dir, 'list.json');
  writeFileSync(list, JSON.stringify({ 'plugin-dir': ['/p1', '/p2'] }));
  t.same(dirs(['--config', list]), ['/p1', '/p2']);
  const one = join(dir, 'one.json');
  writeFileSync(one, JSON.stringify({ 'plugin-dir': '/p3' }));
  t.same(dirs(['--config', one]), ['/p3']);
  const none = join(dir, 'none.json');
  writeFileSync(none, JSON.stringify({ 'node-name': 'n' }));
  t.same(dirs(['--config', none]), [dirname(resolve(process.argv[1] ?? '')), join(dir, 'plugins')]);
});

t.test('default: next to the executable, then /etc/clocktower/plugins', async (t) => {
  t.same(dirs([]), [dirname(resolve(process.argv[1] ?? '')), '/etc/clocktower/plugins']);
});

t.test('an empty directory name is refused; agents take the flag too', async (t) => {
  t.throws(() => dirs(['--plugin-dir', '']), ConfigError);
  const agent = parseAgentConfig(['--server', '--bootstrap-expect', '1', '--plugin-dir', '/q'], {}, '0');
  t.same(agent === 'help' ? null : agent.pluginDirs, ['/q']);
});
