// `clocktower light`: the whole of Clocktower in one process on one node —
// a one-server cluster, the scheduler, the built-in shell and http
// executors in-process, and the REST API. Composition only: every part is
// the one a cluster uses.

import { join } from 'node:path';
import { RaftNode } from '../server/cluster/raft-node.js';
import { Dispatcher } from '../server/dispatch/dispatcher.js';
import { HttpApi } from '../server/api/http-api.js';
import { decodeCommand, encodeCommand } from '../server/state/commands.js';
import type { CommandLog } from '../server/state/command-log.js';
import { StateMachine, type ApplyResult } from '../server/state/state-machine.js';
import { ExecutorRegistry } from '../plugins/sdk/executor-registry.js';
import { ShellExecutor } from '../plugins/executors/shell/shell-executor.js';
import { HttpExecutor } from '../plugins/executors/http/http-executor.js';
import { InProcessExecutorHost } from './in-process-executor-host.js';
import { lockDataDir } from './data-dir-lock.js';
import type { LightConfig } from './light-config.js';

export interface LightServer {
  /** The API's address, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  readonly state: StateMachine;
  close(): Promise<void>;
}

export async function startLight(config: LightConfig, log: (line: string) => void): Promise<LightServer> {
  const unlock = await lockDataDir(config.dataDir);
  const now = () => Date.now();
  const state = new StateMachine({ historyLimit: config.historyLimit });
  let node: RaftNode<ApplyResult>;
  try {
    // A cluster of one: the same Raft node a cluster runs, with nobody to talk to.
    node = await RaftNode.open<ApplyResult>({
      dir: join(config.dataDir, 'raft'),
      nodeName: config.nodeName,
      address: { rpc: '', http: config.httpAddr },
      start: [{ id: config.nodeName, address: { rpc: '', http: config.httpAddr } }],
      transport: { send: () => {}, setPeer: () => {}, removePeer: () => {} },
      snapshotEvery: config.snapshotEvery,
      stateMachine: {
        apply: (data, index) => state.apply(decodeCommand(data), index),
        snapshot: () => state.snapshot(),
        restore: (data) => state.restore(data),
      },
      onFatal: (err) => log(`fatal: the log cannot be written, refusing further writes: ${err.message}`),
    });
  } catch (err) {
    await unlock();
    throw err;
  }
  const commandLog: CommandLog = { submit: (command) => node.propose(encodeCommand(command)) };
  const host = new InProcessExecutorHost(new ExecutorRegistry([new ShellExecutor(), new HttpExecutor()]));
  const dispatcher = new Dispatcher({
    nodeName: config.nodeName,
    state,
    log: commandLog,
    host,
    now,
    outputLimit: config.outputLimit,
    onError: (err) => log(`dispatch: ${err instanceof Error ? err.message : String(err)}`),
  });
  const api = new HttpApi({
    nodeName: config.nodeName,
    version: config.version,
    state,
    log: commandLog,
    dispatcher,
    cluster: node,
    now,
    apiToken: config.apiToken,
    maxBodyBytes: config.maxBodyBytes,
  });
  // The only voter leads as soon as it has replayed its log; serve once it does.
  await new Promise<void>((resolve) => {
    node.onLeadershipChange((leading) => {
      if (leading) dispatcher.startLeading();
      else dispatcher.stopLeading();
      if (leading) resolve();
    });
  });
  const [host_, port] = splitHostPort(config.httpAddr);
  let address;
  try {
    address = await api.listen(host_, port);
  } catch (err) {
    await node.close();
    await unlock();
    throw err;
  }
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  log(`clocktower light: node ${config.nodeName}, ${state.jobCount} jobs, data in ${config.dataDir}, API on ${url}`);
  let closing: Promise<void> | null = null;
  return {
    url,
    state,
    close: () => (closing ??= (async () => {
      await api.close();
      await dispatcher.shutdown();
      await host.close();
      await node.close();
      await unlock();
    })()),
  };
}

export function splitHostPort(addr: string): [string, number] {
  const m = /^(?:\[(?<v6>[^\]]+)\]|(?<host>[^:]*)):(?<port>\d+)$/.exec(addr);
  if (!m?.groups) throw new Error(`"${addr}" is not HOST:PORT`);
  const host = m.groups['v6'] ?? m.groups['host'] ?? '';
  return [host === '' ? '127.0.0.1' : host, Number(m.groups['port'])];
}
