// The executors (and processor programs) a node has: the built-in shell and
// http executors, run in-process, plus the plugin programs found in the
// plugin directories. A discovered executor with a built-in's name replaces
// the built-in: installing clocktower-executor-shell is asking for it.

import { availableParallelism } from 'node:os';
import { isSea } from 'node:sea';
import { fileURLToPath } from 'node:url';
import { discoverPlugins } from '../plugins/sdk/discover-plugins.js';
import type { Executor } from '../plugins/sdk/executor.js';
import { ExecutorRegistry } from '../plugins/sdk/executor-registry.js';
import { PluginExecutor } from '../plugins/sdk/plugin-executor.js';
import { ShellExecutor } from '../plugins/executors/shell/shell-executor.js';
import { HttpExecutor } from '../plugins/executors/http/http-executor.js';
import type { PluginEntry, PluginListing } from '../server/api/routes/plugin-routes.js';
import { builtinProcessors } from './in-process-processor-host.js';
import { bundledExecutorNames, bundledSecretKeys, pluginRoleArgs } from './bundled-plugins.js';

export interface NodePlugins {
  /** Built-in and plugin executors; closing it stops the plugin programs. */
  readonly registry: ExecutorRegistry;
  /** Processor name -> program path, for the processor host. */
  readonly processors: ReadonlyMap<string, string>;
  /** For GET /v1/plugins. */
  readonly listing: PluginListing;
  /**
   * Settles once every plugin program started at load has started and told
   * its secret keys, or failed to start: until then a job of such an
   * executor cannot be shown redacted by its declaration.
   */
  readonly described: Promise<void>;
}

/**
 * The executors shipped with Clocktower as plugin programs (kafka, nats,
 * rabbitmq, grpc, pubsub): looked up after the plugin directories, so a
 * user's program of the same name wins, and started on first use. From a
 * checkout or an npm install they are the programs in this directory; the
 * single executable has no directory beside it and starts itself in the
 * plugin role instead (bin/bundled-plugins.ts).
 */
export const bundledPluginDir = fileURLToPath(new URL('../../plugins/bundled', import.meta.url));

/** A bundled executor: the program to start and its arguments. */
interface BundledProgram {
  readonly path: string;
  readonly args: readonly string[];
}

/**
 * Copies of an executor program to run. A shell plugin spawns a process per
 * execution, and each spawn blocks its program until the child has exec'd
 * (longer the busier the machine): two copies spawn in parallel (measured on
 * 2 cores: ~1.5x the executions/s of one; a third added nothing).
 */
function instancesOf(executor: string): number {
  return executor === 'shell' ? Math.min(2, availableParallelism()) : 1;
}

export function loadPlugins(dirs: readonly string[], log: (line: string) => void, onRestart?: (name: string) => void): NodePlugins {
  const single = isSea();
  // The bundled wrappers run the plugin with the node that runs us.
  if (!single) process.env['CLOCKTOWER_NODE'] ??= process.execPath;
  const found = discoverPlugins(single ? dirs : [...dirs, bundledPluginDir]);
  const bundled = new Map<string, BundledProgram>();
  if (single) {
    for (const name of bundledExecutorNames) if (!found.executors.has(name)) bundled.set(name, { path: process.execPath, args: pluginRoleArgs(name) });
  }
  for (const [name, path] of found.executors) if (path.startsWith(`${bundledPluginDir}/`)) bundled.set(name, { path, args: [] });
  const missing = new Set(found.missingDirs);
  log(`plugins: looking in ${dirs.map((d) => (missing.has(d) ? `${d} (does not exist)` : d)).join(', ') || 'no directories'}, then the bundled ones`);
  for (const s of found.skipped) log(`plugins: ${s.refused ? 'refused' : 'skipped'} ${s.path}: ${s.reason}`);

  const builtins: Executor[] = [new ShellExecutor(), new HttpExecutor()];
  const plugins: PluginExecutor[] = [];
  const entries = new Map<string, PluginEntry>(builtins.map((e) => [e.name, { name: e.name, builtin: true }]));
  const eager: PluginExecutor[] = [];
  for (const [name, { path, args }] of bundled) {
    plugins.push(new PluginExecutor(name, path, { log, instances: instancesOf(name), args, secretKeys: Object.hasOwn(bundledSecretKeys, name) ? bundledSecretKeys[name] ?? [] : [] }));
    entries.set(name, { name, builtin: true, path });
  }
  for (const [name, path] of found.executors) {
    if (bundled.has(name)) continue;
    const plugin = new PluginExecutor(name, path, { log, instances: instancesOf(name), ...(onRestart ? { onRestart } : {}) });
    plugins.push(plugin);
    log(`plugins: executor ${name} is ${path}${entries.has(name) ? ` (replacing the built-in ${name})` : ''}`);
    eager.push(plugin);
    entries.set(name, { name, builtin: false, path });
  }
  for (const [name, path] of found.processors) log(`plugins: processor ${name} is ${path}`);
  // Start the programs now so a broken one shows in the log at once; one that
  // fails is started again by its next execution and never stops the node.
  const starts = eager.map((p) => p.start().then(
    () => log(`plugins: executor ${p.name} started${p.secretKeys?.length ? `, secret keys ${p.secretKeys.join(', ')}` : ''}`),
    (err: unknown) => log(`plugins: executor ${p.name} did not start (its executions will try again): ${err instanceof Error ? err.message : String(err)}`),
  ));
  const byName = (a: PluginEntry, b: PluginEntry) => a.name.localeCompare(b.name);
  return {
    registry: new ExecutorRegistry([...builtins, ...plugins]),
    described: Promise.all(starts).then(() => {}),
    processors: found.processors,
    listing: {
      executors: [...entries.values()].sort(byName),
      processors: [
        ...builtinProcessors().map((p) => p.name).filter((name) => !found.processors.has(name)).map((name) => ({ name, builtin: true })),
        ...[...found.processors].map(([name, path]) => ({ name, builtin: false, path })),
      ].sort(byName),
    },
  };
}
