// The executors shipped with Clocktower as plugin programs, and the hidden
// plugin role of the `clocktower` executable: `clocktower plugin executor
// NAME` serves executor NAME over the plugin protocol, as the programs in
// plugins/bundled/ do. The single executable (npm run package) starts its
// bundled plugins this way, re-executing itself, as Dkron does; from a
// checkout or an npm install they are the wrappers in plugins/bundled/.
// Each executor is loaded only when its role is started.

import type { Executor } from '../plugins/sdk/executor.js';
import { serveExecutor } from '../plugins/sdk/serve-executor.js';
import { kafkaSecretKeys } from '../plugins/executors/kafka/secret-keys.js';
import { natsSecretKeys } from '../plugins/executors/nats/secret-keys.js';

const executors: Readonly<Record<string, () => Promise<Executor>>> = {
  gcppubsub: async () => new (await import('../plugins/executors/pubsub/pubsub-executor.js')).PubSubExecutor('gcppubsub'),
  grpc: async () => new (await import('../plugins/executors/grpc/grpc-executor.js')).GrpcExecutor(),
  kafka: async () => new (await import('../plugins/executors/kafka/kafka-executor.js')).KafkaExecutor(),
  nats: async () => new (await import('../plugins/executors/nats/nats-executor.js')).NatsExecutor(),
  pubsub: async () => new (await import('../plugins/executors/pubsub/pubsub-executor.js')).PubSubExecutor('pubsub'),
  rabbitmq: async () => new (await import('../plugins/executors/rabbitmq/rabbitmq-executor.js')).RabbitmqExecutor(),
};

/** The names of the bundled executors (the programs in plugins/bundled/). */
export const bundledExecutorNames: readonly string[] = Object.keys(executors).sort();

/**
 * The executor_config keys each bundled executor declares secret (the same
 * lists its program answers Describe with), known before its program starts.
 */
export const bundledSecretKeys: Readonly<Record<string, readonly string[]>> = { kafka: kafkaSecretKeys, nats: natsSecretKeys };

/** The arguments that start the running executable as bundled executor `name`. */
export function pluginRoleArgs(name: string): string[] {
  return ['plugin', 'executor', name];
}

export const pluginRoleUsage = `usage: clocktower plugin executor NAME

Serves a bundled executor over the plugin protocol. Clocktower starts its
bundled executors this way by itself; it is not meant to be run by hand.
Bundled executors: ${bundledExecutorNames.join(', ')}
`;

/**
 * Runs the plugin role; resolves once the plugin serves (the process then
 * lives until its host goes away), or with 2 for a bad role.
 */
export async function runPluginRole(argv: readonly string[], stderr: (s: string) => void): Promise<number> {
  const [kind, name, ...extra] = argv;
  const load = kind === 'executor' && name !== undefined && Object.hasOwn(executors, name) ? executors[name] : undefined;
  if (!load || extra.length > 0) {
    stderr(kind === 'executor' && name !== undefined && extra.length === 0 ? `error: no bundled executor named "${name}"\n\n${pluginRoleUsage}` : pluginRoleUsage);
    return 2;
  }
  await serveExecutor(await load());
  return 0;
}
