// `npm run bench`: every benchmark in turn, one JSON object per line.
// BENCH_ONLY=name runs just one (the names are the keys below). The soak
// (minutes to hours) runs only when named.

import { isMain } from './stats.js';

const benches: Record<string, () => Promise<{ run: () => Promise<Record<string, unknown>> }>> = {
  'log-append': () => import('./log-append.js'),
  'executions-per-second': () => import('./executions-per-second.js'),
  'fire-lateness': () => import('./fire-lateness.js'),
  'many-jobs': () => import('./many-jobs.js'),
  'raft-transport': () => import('./raft-transport.js'),
  'raft-commits': () => import('./raft-commits.js'),
  'cluster-failover': () => import('./cluster-failover.js'),
  'executors-kafka': () => import('./executors-kafka.js'),
  'plugin-executor': () => import('./plugin-executor.js'),
  'shell-execution': () => import('./shell-execution.js'),
  processors: () => import('./processors.js'),
  linearizability: () => import('./linearizability.js'),
  'executors-grpc-pubsub': () => import('./executors-grpc-pubsub.js'),
  'executors-nats-rabbitmq': () => import('./executors-nats-rabbitmq.js'),
  agents: () => import('./agents.js'),
  'agents-cluster': () => import('./agents-cluster.js'),
  'pull-agents': () => import('./pull-agents.js'),
  'fire-burst': () => import('./fire-burst.js'),
  'agent-host': () => import('./agent-host.js'),
  'etcd-store': () => import('./etcd-store.js'),
  'tls-cost': () => import('./tls-cost.js'),
  ui: () => import('./ui.js'),
  package: () => import('./package.js'),
  remote: () => import('./remote.js'),
  workflows: () => import('./workflows.js'),
  'snapshot-stall': () => import('./snapshot-stall.js'),
  soak: () => import('./soak.js'),
};

if (isMain(import.meta.url)) {
  const only = process.env['BENCH_ONLY'];
  for (const [name, load] of Object.entries(benches)) {
    if (only ? only !== name : name === 'soak') continue;
    const { run } = await load();
    console.log(JSON.stringify(await run()));
  }
}
