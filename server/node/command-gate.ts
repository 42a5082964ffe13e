// The server's command log: commands go to the cluster until shutdown, when
// the gate refuses them (what runs on agents then stays running in the state,
// for the next leader to reclaim); and, on the leader, the executors'
// declared secret keys recorded through it for every server to redact.

import { ClusterError, type ClusterNode } from '../cluster/cluster-node.js';
import { CommandType, encodeCommand, type Command } from '../state/commands.js';
import type { CommandLog } from '../state/command-log.js';
import type { ApplyResult, StateMachine } from '../state/state-machine.js';
import type { DeclaredSecretKeys } from './server-agents.js';

export class CommandGate implements CommandLog {
  private refusing = false;

  constructor(private readonly node: Pick<ClusterNode<ApplyResult>, 'propose'>) {}

  submit(command: Command): Promise<ApplyResult> {
    return this.refusing
      ? Promise.reject(new ClusterError('CT_CLUSTER_CLOSED', 'the server is shutting down'))
      : this.node.propose(encodeCommand(command));
  }

  /** From now on every command is refused. */
  refuse(): void {
    this.refusing = true;
  }

  get refused(): boolean {
    return this.refusing;
  }
}

/** On the leader: record what executors declare secret for every server to redact (what is recorded already is not proposed again). */
export function declareSecretKeys(state: StateMachine, log: CommandLog, now: () => number, logLine: (line: string) => void, declared: DeclaredSecretKeys): void {
  const missing = declared
    .map((d) => ({ executor: d.executor, keys: d.keys.filter((k) => !state.declaredSecretKeys(d.executor).includes(k)) }))
    .filter((d) => d.keys.length > 0);
  if (missing.length === 0) return;
  log.submit({ type: CommandType.DeclareSecretKeys, atMs: now(), declared: missing }).then(
    (r) => r.ok || logLine(`agents: declared secret keys not recorded (the next registration tries again): ${r.error.message}`),
    (err: unknown) => logLine(`agents: declared secret keys not recorded (the next registration tries again): ${err instanceof Error ? err.message : String(err)}`),
  );
}
