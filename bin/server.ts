// A Clocktower server, composed: the command log (the built-in Raft node, with
// its gRPC transport and cluster service when it has peers, or an existing
// etcd with --store etcd), the state machine, the dispatcher with
// the built-in executors in-process, and the REST API. Light mode is this
// with a cluster of one and nobody to talk to.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request, type Dispatcher as HttpDispatcher } from 'undici';
import { hostname } from 'node:os';
import { ownDnsNames, TlsFileWatch, tlsClientOptions, type TlsFiles } from '../common/tls.js';
import { hostName, hostPolicy, loopbackNames, type HostPolicy } from '../server/api/request-guard.js';
import { agentProto, clusterProto } from '../proto/load-proto.js';
import type { Identity__Output } from '../proto/generated/clocktower/cluster/v1/Identity.js';
import { discover, joinCluster } from '../server/cluster/cluster-discovery.js';
import { clusterServiceHandlers } from '../server/cluster/cluster-service.js';
import { ClusterError, type ServerClusterNode } from '../server/cluster/cluster-node.js';
import type { EtcdSettings } from '../server/store-etcd/etcd-node.js';
import type { EtcdFlags } from './agent-config.js';
import { RaftNode, type RaftMessageTransport } from '../server/cluster/raft-node.js';
import { RaftTransport } from '../server/cluster/raft-transport.js';
import { Dispatcher } from '../server/dispatch/dispatcher.js';
import { forwardedHeader, HttpApi, type ForwardedRequest, type RaftPosition, type StreamedReply } from '../server/api/http-api.js';
import type { Reply } from '../server/api/routes/route.js';
import type { ClusterAdmin } from '../server/api/routes/raft-routes.js';
import { CommandType, decodeCommand, encodeCommand } from '../server/state/commands.js';
import type { CommandLog } from '../server/state/command-log.js';
import { StateMachine, type ApplyResult } from '../server/state/state-machine.js';
import { InProcessExecutorHost } from './in-process-executor-host.js';
import { loadPlugins } from './node-plugins.js';
import { builtinProcessors } from './in-process-processor-host.js';
import { PluginProcessorHost } from './plugin-processor-host.js';
import { ServerAgents, type ServerAgentSettings } from './server-agents.js';
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

/**
 * Light mode's one-server cluster names its only member after the node; a
 * restart under another name (the default is the hostname, which changes
 * when a container restarts) could never elect itself, so say so and how to
 * go on rather than wait for ever.
 */
function refuseRenamedLightNode(config: LightConfig, members: readonly string[]): void {
  if (members.length === 0 || members.includes(config.nodeName)) return;
  const was = members.length === 1 ? `node "${members[0]}"` : `nodes ${members.map((m) => `"${m}"`).join(', ')}`;
  throw new Error(
    `the data directory ${config.dataDir} belongs to ${was}, and this node is named "${config.nodeName}" ` +
    `(the node name defaults to the hostname, which changes when a container restarts): ` +
    `start with --node-name ${members[0] ?? ''} to carry on with its jobs, or use another --data-dir to start afresh`,
  );
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
  const raftDir = join(config.dataDir, 'raft');
  const self: Identity__Output = { node: config.nodeName, rpc_addr: cluster?.advertiseRpcAddr ?? '', http_addr: config.httpAddr };
  let node: RaftNode<ApplyResult> | null = null;
  let transport: RaftMessageTransport = { send: () => {}, setPeer: () => {}, removePeer: () => {} };
  let raftTransport: RaftTransport | null = null;
  const known = new Map<string, Identity__Output>();
  const plugins = loadPlugins(config.pluginDirs, log, (name) => metrics.pluginRestarted(name));
  const executorRegistry = plugins.registry;
  const agents = cluster ? new ServerAgents({
    nodeName: config.nodeName, rpcAddr: cluster.advertiseRpcAddr, join: cluster.join, state, executors: executorRegistry,
    outputLimit: config.outputLimit, version: config.version, settings: cluster.agents, log, tls: config.tls,
    described: plugins.described, declareSecretKeys: (declared) => declareSecretKeys(declared),
  }) : null;

  if (cluster) {
    raftTransport = new RaftTransport({
      self: config.nodeName,
      listen: cluster.rpcAddr,
      onMessage: (m) => node?.receive(m),
      onUnreachable: (peer) => node?.reportUnreachable(peer),
      onSnapshotStatus: (peer, ok) => node?.reportSnapshot(peer, ok),
      log,
      tls: config.tls,
    });
    // With TLS: only servers may identify and join; servers and agents may register agents.
    if (!cluster.etcd) raftTransport.addService(clusterProto().clocktower.cluster.v1.Cluster.service, clusterServiceHandlers({ self, known, node: () => node, log }), ['server']);
    if (agents) raftTransport.addService(agentProto().clocktower.agent.v1.Agent.service, agents.handlers(), ['server', 'agent']);
    await raftTransport.start();
    const rt = raftTransport;
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
    if (existsSync(join(raftDir, 'hardstate'))) {
      // Its jobs are in that Raft log, not in etcd: starting on etcd would seem to lose them.
      throw new Error(`the data directory ${config.dataDir} holds a built-in Raft log: start without --store etcd to carry on with it, ` +
        'or use another --data-dir to run on etcd (Clocktower does not copy a Raft log into etcd)');
    }
    // Loaded only with --store etcd: the etcd client reads its protos when it loads.
    const { EtcdNode } = await import('../server/store-etcd/etcd-node.js');
    const etcdNode = await EtcdNode.open<ApplyResult>({
      nodeName: config.nodeName,
      address: { rpc: self.rpc_addr, http: self.http_addr },
      etcd: etcdSettings(cluster.etcd),
      stateMachine,
      snapshotEvery: config.snapshotEvery,
      log,
    });
    cleanups.push(() => etcdNode.close());
    opened = etcdNode;
    log(`cluster: the command log and leader election run on etcd at ${cluster.etcd.endpoints.join(',')} under ${cluster.etcd.prefix}/`);
  } else {
    raftNode = await openRaft();
    opened = raftNode;
  }

  async function openRaft(): Promise<RaftNode<ApplyResult>> {
    // An empty data directory bootstraps a cluster or joins one; otherwise the log says who we are.
    const fresh = !existsSync(join(raftDir, 'hardstate'));
    let start: 'join' | { id: string; address: { rpc: string; http: string } }[] = [{ id: config.nodeName, address: { rpc: self.rpc_addr, http: self.http_addr } }];
    let joinVia: string | null = null;
    let joinMembers: readonly Identity__Output[] = [];
    if (cluster && fresh) {
      const decision = await discover({ self, known, join: cluster.join, bootstrapExpect: cluster.bootstrapExpect, log, tls: config.tls });
      if (decision.kind === 'join') {
        start = 'join';
        joinVia = decision.via;
        joinMembers = decision.members;
      } else {
        start = decision.members.map((m) => ({ id: m.node, address: { rpc: m.rpc_addr, http: m.http_addr } }));
        log(`cluster: bootstrapping with ${decision.members.map((m) => m.node).join(', ')}`);
      }
    }

    const opened = await RaftNode.open<ApplyResult>({
      dir: raftDir,
      nodeName: config.nodeName,
      address: { rpc: self.rpc_addr, http: self.http_addr },
      start,
      transport,
      tickMs: 100 * (cluster?.raftMultiplier ?? 1),
      snapshotEvery: config.snapshotEvery,
      stateMachine,
      // The node has stepped down everywhere and refuses writes; the process
      // ends so a supervisor restarts it rather than leaving a server that serves stale reads.
      onFatal: (err) => {
        log(`fatal: the log cannot be written, refusing further writes and stopping: ${err.message}`, { event: 'storage_failed' });
        stopRequested({ why: 'the log cannot be written', exitCode: 1 });
      },
      log,
      metrics,
    });
    metrics.watchRaft(() => ({ term: opened.term(), commitIndex: opened.commitIndex(), appliedIndex: opened.appliedIndex(), leader: opened.isLeader() }));
    node = opened;
    cleanups.push(() => opened.close());
    if (!cluster && !fresh) refuseRenamedLightNode(config, opened.members().map((m) => m.name));
    if (joinVia !== null) {
      for (const m of joinMembers) opened.introduce(m.node, { rpc: m.rpc_addr, http: m.http_addr });
      log(`cluster: joining via ${joinVia}`);
      await joinCluster(joinVia, self, { log, tls: config.tls });
    } else if (cluster && !fresh && cluster.join.length > 0) {
      // Back from the data dir at another address than the cluster has for us
      // (a new pod IP): tell the leader, through any server we were given.
      const recorded = opened.addressOf(config.nodeName);
      if (recorded && (recorded.rpc !== self.rpc_addr || recorded.http !== self.http_addr)) {
        log(`cluster: the cluster knows this server at ${recorded.rpc}; telling it the new address ${self.rpc_addr}`);
        const stopAnnouncing = new AbortController();
        cleanups.push(async () => stopAnnouncing.abort());
        void joinCluster(cluster.join.filter((a) => a !== self.rpc_addr), self, { log, signal: stopAnnouncing.signal, tls: config.tls }).catch(() => {});
      }
    }
    return opened;
  }

  // Set on shutdown in a cluster: what runs on agents is left running in the state, for the next leader to reclaim.
  let refuseCommands = false;
  const commandLog: CommandLog = {
    submit: (command) => refuseCommands
      ? Promise.reject(new ClusterError('CT_CLUSTER_CLOSED', 'the server is shutting down'))
      : opened.propose(encodeCommand(command)),
  };
  /** On the leader: record what executors declare secret for every server to redact (what is recorded already is not proposed again). */
  const declareSecretKeys = (declared: readonly { readonly executor: string; readonly keys: readonly string[] }[]): void => {
    const missing = declared
      .map((d) => ({ executor: d.executor, keys: d.keys.filter((k) => !state.declaredSecretKeys(d.executor).includes(k)) }))
      .filter((d) => d.keys.length > 0);
    if (missing.length === 0) return;
    commandLog.submit({ type: CommandType.DeclareSecretKeys, atMs: now(), declared: missing }).then(
      (r) => r.ok || log(`agents: declared secret keys not recorded (the next registration tries again): ${r.error.message}`),
      (err: unknown) => log(`agents: declared secret keys not recorded (the next registration tries again): ${err instanceof Error ? err.message : String(err)}`),
    );
  };
  const host = new InProcessExecutorHost(executorRegistry);
  cleanups.push(() => host.close());
  if (agents) cleanups.push(() => agents.close());
  // Built-in processors run in-process; a discovered program of the same name replaces one.
  const processors = new PluginProcessorHost(plugins.processors, { alongside: builtinProcessors(), log, onRestart: (name) => metrics.pluginRestarted(name) });
  cleanups.push(() => processors.close());
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
  cleanups.push(async () => notifier.close());
  // Jobs with the `odm` executor run on the leader, against Open Data Mesh executor services; the rest as below.
  let apiUrl = '';
  const odmHost = new OdmExecutorHost({
    state, log: commandLog, now, selfNode: config.nodeName, services: config.odmExecutors,
    callbackBase: () => config.odmCallbackUrl ?? (apiUrl !== '' ? apiUrl : `${config.tls ? 'https' : 'http'}://${config.httpAddr}`),
    // In a cluster, executions go to agents (this server's own one in-process); light mode runs them here.
  }, agents?.host ?? host, agents?.host);
  cleanups.push(async () => odmHost.close());
  const odmCallbacks = new OdmCallbackSender({ state, log: commandLog, now, onError: (m) => log(m, { event: 'odm_callback_retry' }) });
  cleanups.push(async () => odmCallbacks.close());
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
  cleanups.push(() => dispatcher.shutdown());
  // First: waiting ODM tasks are given up, not stopped, so the next start (or leader) waits on.
  cleanups.push(async () => {
    odmCallbacks.close();
    odmHost.stopLeading();
  });
  metrics.watchRunning(() => dispatcher.busy().length);
  if (agents) metrics.watchAgents(() => agents.host.status());
  if (agents) {
    cleanups.push(async () => {
      dispatcher.stopLeading();
      await agents.drainOwn();
      refuseCommands = true;
      agents.release();
    });
  }
  const leaderClient = new LeaderClient(config.tls);
  cleanups.push(() => leaderClient.close());
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
      forwardToLeader: (req: ForwardedRequest) => forwardToLeader(opened, req, leaderClient),
      streamFromLeader: (req: ForwardedRequest) => streamFromLeader(opened, req, leaderClient),
      readBarrier: () => opened.readBarrier(),
      peerRaftStatus: (name: string, headers: ForwardedRequest['headers']) => peerRaftStatus(opened, name, headers, leaderClient),
      admin: raftNode ? clusterAdmin(raftNode, config, () => stopRequested(), log, leaderClient) : etcdAdmin(opened, cluster.etcd?.endpoints ?? [], () => stopRequested(), log),
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
  opened.onLeadershipChange((leading) => {
    if (leading) {
      agents?.startLeading();
      dispatcher.startLeading();
      odmCallbacks.startLeading();
    } else {
      odmCallbacks.stopLeading();
      dispatcher.stopLeading();
      odmHost.stopLeading();
      agents?.stopLeading();
    }
  });
  agents?.start(opened as ServerClusterNode<unknown>);
  if (!cluster) {
    // The only voter leads as soon as it has replayed its log; serve once it does.
    await new Promise<void>((resolve) => opened.onLeadershipChange((leading) => leading && resolve()));
  }
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

/** How this server calls another server's API: plain HTTP, or HTTPS with its own certificate (reloaded when the files change). */
class LeaderClient {
  private agent: Agent | null = null;
  private readonly watch: TlsFileWatch | null;
  constructor(private readonly tls: TlsFiles | null) {
    this.watch = tls ? new TlsFileWatch(tls) : null;
  }

  get scheme(): string {
    return this.tls ? 'https' : 'http';
  }

  dispatcher(): HttpDispatcher | undefined {
    if (!this.tls) return undefined;
    if (this.agent === null || this.watch?.changed()) {
      void this.agent?.close();
      this.agent = new Agent({ connect: tlsClientOptions(this.tls) });
    }
    return this.agent;
  }

  async close(): Promise<void> {
    await this.agent?.close();
  }
}

/** The headers of a call to another server's API on a caller's behalf: marked forwarded, with the caller's `keep` headers. */
function relayedHeaders(node: ServerClusterNode<ApplyResult>, from: ForwardedRequest['headers'], keep: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = { [forwardedHeader]: node.nodeName };
  for (const k of keep) {
    const v = from[k];
    if (typeof v === 'string') headers[k] = v;
  }
  return headers;
}

/** Send a write that reached this follower to the leader's API, and relay the answer. */
async function forwardToLeader(node: ServerClusterNode<ApplyResult>, req: ForwardedRequest, client: LeaderClient): Promise<Reply> {
  const leader = node.leaderName();
  const http = leader ? node.addressOf(leader)?.http : undefined;
  if (!leader || !http) throw new ClusterError('CT_CLUSTER_NOT_LEADER', 'no leader: the cluster cannot accept writes right now');
  const headers = relayedHeaders(node, req.headers, ['authorization', 'content-type']);
  let res;
  try {
    const dispatcher = client.dispatcher();
    res = await request(`${client.scheme}://${http}${req.path}`, { method: req.method as 'POST', headers, body: req.body.length > 0 ? req.body : null, ...(dispatcher ? { dispatcher } : {}) });
  } catch (err) {
    throw new ClusterError('CT_CLUSTER_NOT_LEADER', `cannot reach the leader ${leader} at ${http}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const body = await res.body.text();
  const out: Record<string, string> = {};
  const total = res.headers['x-total-count'];
  if (typeof total === 'string') out['x-total-count'] = total;
  return { status: res.statusCode, body, raw: true, headers: out };
}

function raftPosition(node: RaftNode<ApplyResult>): RaftPosition {
  return { term: node.term(), commit_index: node.commitIndex(), applied_index: node.appliedIndex() };
}

/** Another server's Raft position, from its GET /v1 (with the caller's token), or null after a second. */
async function peerRaftStatus(node: ServerClusterNode<ApplyResult>, name: string, callerHeaders: ForwardedRequest['headers'], client: LeaderClient): Promise<RaftPosition | null> {
  const http = node.addressOf(name)?.http;
  if (!http) return null;
  const headers = relayedHeaders(node, callerHeaders, ['authorization']);
  const dispatcher = client.dispatcher();
  const res = await request(`${client.scheme}://${http}/v1`, { method: 'GET', headers, signal: AbortSignal.timeout(1000), ...(dispatcher ? { dispatcher } : {}) });
  const body = await res.body.json() as { raft?: RaftPosition };
  return res.statusCode === 200 && body.raft ? body.raft : null;
}

/** A streamed GET (server-sent events) from the leader's API, relayed as it comes. */
async function streamFromLeader(node: ServerClusterNode<ApplyResult>, req: ForwardedRequest, client: LeaderClient): Promise<StreamedReply> {
  const leader = node.leaderName();
  const http = leader ? node.addressOf(leader)?.http : undefined;
  if (!leader || !http) throw new ClusterError('CT_CLUSTER_NOT_LEADER', 'no leader: the cluster cannot stream a running execution right now');
  const headers = { ...relayedHeaders(node, req.headers, ['authorization']), accept: 'text/event-stream' };
  const abort = new AbortController();
  let res;
  try {
    const dispatcher = client.dispatcher();
    res = await request(`${client.scheme}://${http}${req.path}`, { method: 'GET', headers, signal: abort.signal, ...(dispatcher ? { dispatcher } : {}) });
  } catch (err) {
    throw new ClusterError('CT_CLUSTER_NOT_LEADER', `cannot reach the leader ${leader} at ${http}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const type = res.headers['content-type'];
  return { status: res.statusCode, contentType: typeof type === 'string' ? type : 'application/json; charset=utf-8', body: res.body, cancel: () => abort.abort() };
}

function clusterAdmin(node: RaftNode<ApplyResult>, config: LightConfig, requestStop: () => void, log: Log, client: LeaderClient): ClusterAdmin {
  return {
    peers: () => node.members().map((m) => ({
      id: m.name, rpc_addr: m.address, http_addr: node.addressOf(m.name)?.http ?? '', leader: m.role === 'leader', voter: m.voter,
    })),
    async removePeer(id) {
      await node.changeMembership({ type: 'remove', node: id });
      log(`cluster: removed ${id}`);
    },
    async leave() {
      if (node.isLeader()) {
        const to = node.members().find((m) => m.voter && m.name !== node.nodeName)?.name;
        if (to) {
          node.transferLeadership(to);
          await until(() => !node.isLeader(), 10_000, 'leadership did not move to another server');
        }
      }
      // Ask the leader (through our own API's forwarding) to remove us. Right
      // after a handover the new leader may not be known or ready yet: retry.
      const deadline = Date.now() + 15_000;
      while (node.members().some((m) => m.name === node.nodeName)) {
        const forwarded = await forwardToLeader(node, {
          method: 'DELETE', path: `/v1/raft/peers/${encodeURIComponent(node.nodeName)}`,
          headers: config.apiToken ? { authorization: `Bearer ${config.apiToken}` } : {}, body: Buffer.alloc(0),
        }, client).catch((err: unknown) => {
          if (err instanceof ClusterError && Date.now() < deadline) return { status: 503, body: err.message };
          throw err;
        });
        if (forwarded.status < 300) break;
        if (forwarded.status !== 503 || Date.now() > deadline) {
          throw new ClusterError('CT_CLUSTER_NOT_LEADER', `the leader refused to remove us: ${String(forwarded.body)}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      log('cluster: left the cluster; stopping');
      setImmediate(requestStop);
    },
  };
}

/** On etcd there are no Raft peers to manage: say so; leaving is stopping (the lease is revoked, another server leads at once). */
function etcdAdmin(node: ServerClusterNode<ApplyResult>, endpoints: readonly string[], requestStop: () => void, log: Log): ClusterAdmin {
  return {
    store: `etcd at ${endpoints.join(',')}`,
    peers: () => node.members().map((m) => ({
      id: m.name, rpc_addr: m.address, http_addr: node.addressOf(m.name)?.http ?? '', leader: m.role === 'leader', voter: m.voter,
    })),
    removePeer() {
      return Promise.resolve();
    },
    leave() {
      log('cluster: leaving (the etcd lease is revoked on stop, so another server leads at once); stopping');
      setImmediate(requestStop);
      return Promise.resolve();
    },
  };
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

async function until(condition: () => boolean, ms: number, message: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new ClusterError('CT_CLUSTER_NOT_LEADER', message);
    await new Promise((r) => setTimeout(r, 20));
  }
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
