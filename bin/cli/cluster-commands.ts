// Cluster client commands: `raft list-peers`, `raft remove-peer`, `leave`.

import { parseArgs } from 'node:util';

export const clusterUsage: Record<string, string> = {
  'list-peers': `clocktower raft list-peers [--json]

Lists the Raft servers: name, id, address, leader or follower, voter.
  --json            print them as the API returns them`,
  'remove-peer': `clocktower raft remove-peer --peer-id ID

Removes the server ID from the cluster (for a server that is gone for good).
  --peer-id ID      the server's id (see clocktower raft list-peers)`,
  leave: `clocktower leave

The server at --address hands over leadership, leaves the cluster and stops.`,
};

const flags = `Client flags:
  --address URL      the server's REST API (default http://127.0.0.1:8080, env CLOCKTOWER_ADDRESS)
  --api-token TOKEN  sent as "Authorization: Bearer TOKEN" (env CLOCKTOWER_API_TOKEN)
  --api-token-file FILE
                     the token read from FILE, kept off the command line (env CLOCKTOWER_API_TOKEN_FILE)
  -h, --help         show this help`;

/** The help of `raft` (all its commands) or of one command. */
export function clusterHelp(command: 'raft' | 'leave', sub?: string): string {
  const key = command === 'leave' ? 'leave' : sub;
  const one = key !== undefined ? clusterUsage[key] : undefined;
  if (one !== undefined) return `Usage: ${one}\n\n${flags}\n`;
  return `Usage: clocktower raft <command> [flags]\n\n  ${(clusterUsage['list-peers'] ?? '').split('\n')[0] ?? ''}\n  ${(clusterUsage['remove-peer'] ?? '').split('\n')[0] ?? ''}\n\n${flags}\n`;
}

export interface ClusterCommandIo {
  stdout(s: string): void;
  /** Calls the API at the chosen --address. */
  api(address: string | undefined, token: { token?: string | undefined; file?: string | undefined }, method: string, path: string): Promise<unknown>;
  table(head: string[], rows: unknown[][]): string;
  usageError(message: string): Error;
}

interface Peer { id: string; rpc_addr: string; http_addr: string; leader: boolean; voter: boolean }

export async function clusterCommand(command: 'raft' | 'leave', sub: string | undefined, argv: string[], io: ClusterCommandIo): Promise<number> {
  const key = command === 'leave' ? 'leave' : sub;
  const args = command === 'leave' ? [sub, ...argv].filter((a): a is string => a !== undefined) : argv;
  if (command === 'raft' && (sub === undefined || sub === '--help' || sub === '-h')) {
    io.stdout(clusterHelp('raft'));
    return 0;
  }
  if (key === undefined || !clusterUsage[key]) throw io.usageError(`unknown raft command "${sub ?? ''}"`);
  let values;
  try {
    ({ values } = parseArgs({
      args, allowPositionals: false, strict: true,
      options: { address: { type: 'string' }, 'api-token': { type: 'string' }, 'api-token-file': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, 'peer-id': { type: 'string' } },
    }));
  } catch (err) {
    throw io.usageError((err as Error).message);
  }
  if (values.help) {
    io.stdout(clusterHelp(command, key));
    return 0;
  }
  const call = (method: string, path: string) => io.api(values.address, { token: values['api-token'], file: values['api-token-file'] }, method, path);
  switch (key) {
    case 'list-peers': {
      const peers = (await call('GET', '/v1/raft/peers')) as Peer[];
      if (values.json) io.stdout(`${JSON.stringify(peers, null, 2)}\n`);
      else io.stdout(io.table(['NODE', 'ID', 'ADDRESS', 'STATE', 'VOTER'], peers.map((p) => [p.id, p.id, p.rpc_addr, p.leader ? 'leader' : 'follower', p.voter])));
      return 0;
    }
    case 'remove-peer': {
      const id = values['peer-id'];
      if (!id) throw io.usageError('--peer-id is required');
      await call('DELETE', `/v1/raft/peers/${encodeURIComponent(id)}`);
      io.stdout(`removed ${id}\n`);
      return 0;
    }
    default: {
      const r = (await call('POST', '/v1/leave')) as { left: string };
      io.stdout(`${r.left} left the cluster\n`);
      return 0;
    }
  }
}
