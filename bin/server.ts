// A Clocktower server, composed: the command log (the built-in Raft node, with
// its gRPC transport and cluster service when it has peers, or an existing
// etcd with --store etcd), the state machine, the dispatcher with
// the built-in executors in-process, and the REST API. Light mode is this
// with a cluster of one and nobody to talk to.

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ownDnsNames } from '../common/tls.js';
import { hostName, hostPolicy, loopbackNames, type HostPolicy } from '../server/api/request-guard.js';
import { agentProto, clusterProto } from '../proto/load-proto.js';
import type { Identity__Output } from '../proto/generated/clocktower/cluster/v1/Identity.js';
import { clusterServiceHandlers } from '../server/cluster/cluster-service.js';
import type { ServerClusterNode } from '../server/cluster/cluster-node.js';
import type { EtcdSettings } from '../server/store-etcd/etcd-node.js';
import type { EtcdFlags } from './agent-config.js';
import type { RaftNode, RaftMessageTransport } from '../server/cluster/raft-node.js';
import { RaftTransport } from '../server/cluster/raft-transport.js';
import { Dispatcher } from '../server/dispatch/dispatcher.js';
import { HttpApi } from '../server/api/http-api.js';
import { decodeCommand } from '../server/state/commands.js';
import { StateMachine, type ApplyResult } from '../server/state/state-machine.js';
import { InProcessExecutorHost } from './in-process-executor-host.js';
import { loadPlugins } from './node-plugins.js';
import { builtinProcessors } from './in-process-processor-host.js';
import { PluginProcessorHost } from './plugin-processor-host.js';
import { ServerAgents, type ServerAgentSettings } from '../server/node/server-agents.js';
import { ownAgent } from './own-agent.js';
import { streamBatches } from './stream-batches.js';
import { dataDirExposure, lockDataDir } from './data-dir-lock.js';
import type { LightConfig } from './light-config.js';
import type { Observability } from './observability.js';
import { Metrics } from '../server/observe/metrics.js';
import { ExecutionTelemetry } from '../server/dispatch/execution-telemetry.js';
import { listenMetrics } from '../server/observe/metrics-listener.js';
import { Notifier } from '../server/dispatch/notify/notifier.js';
import { NetworkDeliverer, secretsOf } from '../server/dispatch/notify/delivery.js';
import { mailProblem } from '../server/dispatch/notify/rules.js';
import { OdmExecutorHost } from '../server/dispatch/odm/odm-executor-host.js';
import { OdmCallbackSender } from '../server/dispatch/odm/odm-callback-sender.js';
import { openEtcd, openRaft } from '../server/node/open-log.js';
import { CommandGate, declareSecretKeys } from '../server/node/command-gate.js';
import { LeaderForwarding } from '../server/node/leader-forwarding.js';
import { etcdAdmin, raftPosition, RaftAdmin } from '../server/node/cluster-admin.js';
import { ServerLifecycle, untilLeading } from '../server/node/server-lifecycle.js';

export interface ClusterSettings {
  readonly rpcAddr: string;
  readonly advertiseRpcAddr: string;
  readonly bootstrapExpect: number;
  readonly join: readonly string[];
  readonly raftMultiplier: number;
  /** With --store etcd: the command log and the leader election live in this etcd instead of the built-in Raft. */
  readonly etcd?: EtcdFlags | null;
  /** A second listener serving only GET /metrics (null: none; /metrics is on the API as well). */
  readonly metricsAddr?: string | null;
  /** This server's own agent, and the agents that connect to it. */
  readonly agents: ServerAgentSettings;
}

export interface RunningServer {
  /** The API's address, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  readonly state: StateMachine;
  readonly metrics: Metrics;
  /**
   * Resolves when the server asks to stop itself: after leaving the cluster
   * (exit code 0), or when its log cannot be written (exit code 1, so that a
   * supervisor restarts it and the start checks the data dir again).
   */
  readonly stopped: Promise<StopRequest>;
  close(): Promise<void>;
}

type Log = Observability['log'];

export interface StopRequest {
  readonly why: string;
  readonly exitCode: number;
}

export async function startServer(config: LightConfig, cluster: ClusterSettings | null, obs: Observability): Promise<RunningServer> {
  const unlock = await lockDataDir(config.dataDir);
  const exposure = await dataDirExposure(config.dataDir);
  if (exposure) obs.logger.warn(exposure, { event: 'data_dir_mode' });
  const cleanups: (() => Promise<void>)[] = [unlock];
  const cleanup = async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}); };
  try {
    return await compose(config, cluster, obs, cleanups, cleanup);
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function compose(config: LightConfig, cluster: ClusterSettings | null, obs: Observability, cleanups: (() => Promise<void>)[], cleanup: () => Promise<void>): Promise<RunningServer> {
  const { log } = obs;
  warnInsecure(config, log);
  const now = () => Date.now();
  const state = new StateMachine({ historyLimit: config.historyLimit });
  const metrics = new Metrics('server');
  let stopRequested: (how?: StopRequest) => void = () => {};
  const stopped = new Promise<StopRequest>((resolve) => {
    stopRequested = (how = { why: 'left the cluster', exitCode: 0 }) => resolve(how);
  });
  // Executions are counted and logged by the server that proposed their commands (see ExecutionTelemetry).
  const telemetry = new ExecutionTelemetry({ state, now, metrics, log: obs.logger });
  const self: Identity__Output = { node: config.nodeName, rpc_addr: cluster?.advertiseRpcAddr ?? '', http_addr: config.httpAddr };
  let node: RaftNode<ApplyResult> | null = null;
  let transport: RaftMessageTransport = { send: () => {}, setPeer: () => {}, removePeer: () => {} };
  const known = new Map<string, Identity__Output>();
  const plugins = loadPlugins(config.pluginDirs, log, (name) => metrics.pluginRestarted(name));
  const executorRegistry = plugins.registry;
  let commands: CommandGate | null = null;
  const agents = cluster ? new ServerAgents({
    nodeName: config.nodeName, state, outputLimit: config.outputLimit, settings: cluster.agents, log,
    localExecutors: () => executorRegistry.names(),
    validate: (executor, executorConfig) => executorRegistry.get(executor)?.validate?.(executorConfig) ?? null,
    batches: streamBatches(),
    ownAgent: (host) => ownAgent(host, {
      nodeName: config.nodeName, servers: [cluster.advertiseRpcAddr, ...cluster.join], executors: executorRegistry,
      version: config.version, settings: cluster.agents, log, tls: config.tls,
    }),
    described: plugins.described,
    declareSecretKeys: (declared) => { if (commands) declareSecretKeys(state, commands, now, log, declared); },
  }) : null;

  if (cluster) {
    const rt = new RaftTransport({
      self: config.nodeName,
      listen: cluster.rpcAddr,
      onMessage: (m) => node?.receive(m),
      onUnreachable: (peer) => node?.reportUnreachable(peer),
      onSnapshotStatus: (peer, ok) => node?.reportSnapshot(peer, ok),
      log,
      tls: config.tls,
    });
    // With TLS: only servers may identify, join and leave; servers and agents may register agents.
    if (!cluster.etcd) rt.addService(clusterProto().clocktower.cluster.v1.Cluster.service, clusterServiceHandlers({ self, known, node: () => node, log }), ['server']);
    if (agents) rt.addService(agentProto().clocktower.agent.v1.Agent.service, agents.handlers(), ['server', 'agent']);
    await rt.start();
    cleanups.push(() => rt.close());
    transport = rt;
  }

  const stateMachine = {
    apply: (data: Uint8Array, index: number, own: boolean) => {
      const command = decodeCommand(data);
      return telemetry.apply(own, command, () => state.apply(command, index));
    },
    snapshot: () => state.snapshot(),
    restore: (data: Uint8Array) => state.restore(data),
  };
  let opened: ServerClusterNode<ApplyResult>;
  let raftNode: RaftNode<ApplyResult> | null = null;
  if (cluster?.etcd) {
    const etcdNode = await openEtcd<ApplyResult>({ dataDir: config.dataDir, self, etcd: etcdSettings(cluster.etcd), stateMachine, snapshotEvery: config.snapshotEvery, log });
    cleanups.push(() => etcdNode.close());
    opened = etcdNode;
  } else {
    const raft = await openRaft<ApplyResult>({
      dataDir: config.dataDir, self, known, cluster, transport, stateMachine, snapshotEvery: config.snapshotEvery, log, metrics, tls: config.tls,
      onOpen: (n) => {
        node = n;
        metrics.watchRaft(() => ({ term: n.term(), commitIndex: n.commitIndex(), appliedIndex: n.appliedIndex(), leader: n.isLeader() }));
      },
      // The node has stepped down everywhere and refuses writes; the process
      // ends so a supervisor restarts it rather than leaving a server that serves stale reads.
      onFatal: (err) => {
        log(`fatal: the log cannot be written, refusing further writes and stopping: ${err.message}`, { event: 'storage_failed' });
        stopRequested({ why: 'the log cannot be written', exitCode: 1 });
      },
    });
    cleanups.push(() => raft.close());
    raftNode = raft.node;
    opened = raftNode;
  }

  const commandLog = new CommandGate(opened);
  commands = commandLog;
  const host = new InProcessExecutorHost(executorRegistry);
  // Built-in processors run in-process; a discovered program of the same name replaces one.
  const processors = new PluginProcessorHost(plugins.processors, { alongside: builtinProcessors(), log, onRestart: (name) => metrics.pluginRestarted(name) });
  // The mail password and webhook header values never reach the log (the deliverer keeps them out of recorded errors too).
  for (const secret of secretsOf(config.notify)) obs.logger.addSecret(secret);
  const notifier = new Notifier({
    state,
    log: commandLog,
    now,
    settings: config.notify,
    templates: config.notifyTemplates,
    nodeName: config.nodeName,
    deliverer: new NetworkDeliverer(config.notify),
    metrics,
    logLine: (level, line, fields) => obs.logger[level](line, fields),
  });
  // Jobs with the `odm` executor run on the leader, against Open Data Mesh executor services; the rest as below.
  let apiUrl = '';
  const odmHost = new OdmExecutorHost({
    state, log: commandLog, now, selfNode: config.nodeName, services: config.odmExecutors,
    callbackBase: () => config.odmCallbackUrl ?? (apiUrl !== '' ? apiUrl : `${config.tls ? 'https' : 'http'}://${config.httpAddr}`),
    // In a cluster, executions go to agents (this server's own one in-process); light mode runs them here.
  }, agents?.host ?? host, agents?.host);
  const odmCallbacks = new OdmCallbackSender({ state, log: commandLog, now, onError: (m) => log(m, { event: 'odm_callback_retry' }) });
  const dispatcher = new Dispatcher({
    nodeName: config.nodeName,
    state,
    log: commandLog,
    host: odmHost,
    chooser: odmHost,
    processors,
    now,
    outputLimit: config.outputLimit,
    onError: (err) => log(`dispatch: ${err instanceof Error ? err.message : String(err)}`),
    notifier,
    notifyProblem: (spec) => mailProblem(config.notify, spec),
  });
  const lifecycle = new ServerLifecycle({ dispatcher, odmHost, odmCallbacks, agents, commands: commandLog, notifier, processors, executors: host });
  cleanups.push(() => lifecycle.close());
  metrics.watchRunning(() => dispatcher.busy().length);
  if (agents) metrics.watchAgents(() => agents.host.status());
  const forwarding = new LeaderForwarding(opened, config.tls);
  cleanups.push(() => forwarding.close());
  const ownRaft = raftNode;
  const api = new HttpApi({
    nodeName: config.nodeName,
    version: config.version,
    state,
    log: commandLog,
    dispatcher,
    cluster: opened,
    now,
    apiToken: config.apiToken,
    maxBodyBytes: config.maxBodyBytes,
    plugins: plugins.listing,
    secretKeys: (executor: string) => executorRegistry.secretKeys(executor),
    secretKeysKnown: plugins.described,
    tls: config.tls,
    allowedHosts: apiHosts(config, cluster),
    ...(cluster ? {
      forwardToLeader: (req) => forwarding.forward(req),
      streamFromLeader: (req) => forwarding.stream(req),
      readBarrier: () => opened.readBarrier(),
      peerRaftStatus: (name, headers) => forwarding.peerRaftStatus(name, headers),
      admin: raftNode
        ? new RaftAdmin({ node: raftNode, tls: config.tls, requestStop: () => stopRequested(), log })
        : etcdAdmin(opened, cluster.etcd?.endpoints ?? [], () => stopRequested(), log),
    } : {}),
    ...(agents ? { agents: () => agents.host.status(), pull: agents.pull } : {}),
    ...(ownRaft ? { raftStatus: () => raftPosition(ownRaft) } : {}),
    metrics: {
      text: () => metrics.text(),
      contentType: metrics.contentType,
      request: (method, route, status, seconds) => {
        metrics.request(method, route, status, seconds);
        obs.logger.debug('api request', { event: 'api_request', method, route, status, duration_ms: Math.round(seconds * 1000) });
      },
    },
  });
  lifecycle.start(opened);
  // The only voter leads as soon as it has replayed its log; serve once it does.
  if (!cluster) await untilLeading(opened);
  const [h, p] = splitHostPort(config.httpAddr);
  const address = await api.listen(h, p);
  cleanups.push(() => api.close());
  const url = `${config.tls ? 'https' : 'http'}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  apiUrl = url;
  if (cluster?.metricsAddr) {
    const listener = await listenMetrics(metrics, ...splitHostPort(cluster.metricsAddr));
    cleanups.push(() => listener.close());
    log(`metrics on ${listener.url}/metrics`);
  }
  log(`clocktower ${cluster ? 'server' : 'light'}: node ${config.nodeName}, ${state.jobCount} jobs, data in ${config.dataDir}, API on ${url}${cluster ? `, RPC on ${cluster.rpcAddr}` : ''}`);
  let closing: Promise<void> | null = null;
  return { url, state, metrics, stopped, close: () => (closing ??= cleanup()) };
}

function etcdSettings(flags: EtcdFlags): EtcdSettings {
  const file = (flag: string, path: string | undefined) => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`--${flag} ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  };
  const ca = file('etcd-ca', flags.caFile);
  const cert = file('etcd-cert', flags.certFile);
  const key = file('etcd-key', flags.keyFile);
  return {
    endpoints: flags.endpoints, prefix: flags.prefix, leaseTtlSec: flags.leaseTtlSec,
    ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}),
    ...(flags.username !== undefined ? { username: flags.username, password: flags.password ?? '' } : {}),
  };
}

/**
 * The names the API answers to (see server/api/request-guard.ts): loopback,
 * this host's name, the hosts of --http-addr and --advertise-rpc-addr, the
 * names of this node's certificate, and --api-allowed-hosts.
 */
export function apiHosts(config: LightConfig, cluster: Pick<ClusterSettings, 'rpcAddr' | 'advertiseRpcAddr'> | null): HostPolicy {
  const own = [config.httpAddr, ...(cluster ? [cluster.rpcAddr, cluster.advertiseRpcAddr] : []), hostname(), ...(config.tls ? ownDnsNames(config.tls) : [])]
    .map((a) => hostName(a)).filter((h): h is string => h !== null);
  return hostPolicy([...loopbackNames, ...own, ...config.apiAllowedHosts]);
}

/** --insecure with a non-loopback address: say so at every start. */
export function warnInsecure(config: LightConfig, log: Log): void {
  if (config.insecureAddresses.length === 0) return;
  log(`warning: --insecure: ${config.insecureAddresses.join(', ')} without TLS; anyone who can reach ${config.insecureAddresses.length === 1 ? 'it' : 'them'} can send this node commands`, { event: 'insecure' });
}

export function splitHostPort(addr: string): [string, number] {
  const m = /^(?:\[(?<v6>[^\]]+)\]|(?<host>[^:]*)):(?<port>\d+)$/.exec(addr);
  if (!m?.groups) throw new Error(`"${addr}" is not HOST:PORT`);
  const host = m.groups['v6'] ?? m.groups['host'] ?? '';
  return [host === '' ? '127.0.0.1' : host, Number(m.groups['port'])];
}
