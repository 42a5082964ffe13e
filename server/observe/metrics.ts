// Every metric Clocktower exports, in one place, on prom-client: Dkron's
// names (so its dashboards and alerts keep working) and Clocktower's own.
// The parts never see prom-client: each takes a small interface of its own
// (DispatchMetrics in server/dispatch, RaftMetrics in server/cluster,
// ApiMetrics in server/api) that this class fulfils, and gauges that
// describe a part's state read it when scraped (watch*()).
// README "Metrics" lists them all.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export type MetricsRole = 'server' | 'agent';

export interface RaftStatus {
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly leader: boolean;
}

export interface AgentLoad {
  readonly node: string;
  readonly running: number;
  readonly queued: number;
}

export interface NodeLoad {
  readonly running: number;
  readonly queued: number;
  readonly unacked: number;
}

export interface FinishedExecution {
  readonly job: string;
  readonly executor: string;
  readonly state: string;
  readonly exitCode: number | null;
  readonly seconds: number;
}

const secondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class Metrics {
  readonly registry = new Registry();
  private readonly server: ServerMetrics | null;
  private readonly pluginRestarts: Counter<'plugin'>;
  private nodeLoad: (() => NodeLoad) | null = null;

  constructor(role: MetricsRole, options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.pluginRestarts = new Counter({ name: 'clocktower_plugin_restarts_total', help: 'Plugin programs started again after their previous process ended', labelNames: ['plugin'], registers });
    this.server = role === 'server' ? new ServerMetrics(registers) : null;
    if (role === 'agent') {
      const load = () => this.nodeLoad?.() ?? { running: 0, queued: 0, unacked: 0 };
      new Gauge({ name: 'clocktower_node_executions_running', help: 'Executions this agent is running', registers, collect() { this.set(load().running); } });
      new Gauge({ name: 'clocktower_node_executions_queued', help: 'Executions waiting on this agent for a free slot (--capacity)', registers, collect() { this.set(load().queued); } });
      new Gauge({ name: 'clocktower_node_results_unacked', help: 'Results this agent sent that the leader has not acknowledged yet', registers, collect() { this.set(load().unacked); } });
    }
  }

  /** The Prometheus text format of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  pluginRestarted(plugin: string): void {
    this.pluginRestarts.inc({ plugin });
  }

  // ---- DispatchMetrics (server/dispatch) ------------------------------------

  executionFinished(e: FinishedExecution): void {
    const s = this.mustServer();
    if (e.state === 'succeeded') s.succeeded.inc({ job_name: e.job });
    else s.failed.inc({ job_name: e.job });
    s.executionTime.set({ job_name: e.job }, e.seconds);
    if (e.exitCode !== null) s.exitCode.set({ job_name: e.job }, e.exitCode);
    s.executions.inc({ state: e.state, executor: e.executor });
    s.duration.observe({ executor: e.executor }, e.seconds);
  }

  fired(trigger: string, count: number): void {
    this.mustServer().fires.inc({ trigger }, count);
  }

  skipped(reason: string, count: number): void {
    this.mustServer().skipped.inc({ reason }, count);
  }

  fireLateness(seconds: number): void {
    this.mustServer().lateness.observe(seconds);
  }

  // ---- NotifyMetrics (server/dispatch/notify) ---------------------------------

  notificationSettled(channel: string, outcome: 'delivered' | 'failed'): void {
    this.mustServer().notifications.inc({ channel, outcome });
  }

  notificationAttemptFailed(channel: string): void {
    this.mustServer().notificationAttemptsFailed.inc({ channel });
  }

  // ---- RaftMetrics (server/cluster) ------------------------------------------

  leaderChanged(): void {
    this.mustServer().leaderChanges.inc();
  }

  persisted(entries: number, seconds: number): void {
    const s = this.mustServer();
    s.fsync.observe(seconds);
    s.batch.observe(entries);
  }

  // ---- ApiMetrics (server/api) -----------------------------------------------

  request(method: string, route: string, status: number, seconds: number): void {
    const s = this.mustServer();
    s.requests.inc({ method, route, status: String(status) });
    s.requestDuration.observe({ method, route }, seconds);
  }

  // ---- gauges read when scraped ------------------------------------------------

  watchRaft(status: () => RaftStatus): void {
    this.mustServer().raft = status;
  }

  /** The agents connected to this server (it answers only while it leads). */
  watchAgents(agents: () => readonly AgentLoad[]): void {
    this.mustServer().agents = agents;
  }

  /** Executions this server runs now (the leader: on every agent; light mode: in-process). */
  watchRunning(count: () => number): void {
    this.mustServer().running = count;
  }

  /** An agent process's own load. */
  watchNode(load: () => NodeLoad): void {
    this.nodeLoad = load;
  }

  private mustServer(): ServerMetrics {
    if (!this.server) throw new Error('server metrics used in an agent process');
    return this.server;
  }
}

class ServerMetrics {
  raft: (() => RaftStatus) | null = null;
  agents: (() => readonly AgentLoad[]) | null = null;
  running: (() => number) | null = null;
  readonly succeeded: Counter<'job_name'>;
  readonly failed: Counter<'job_name'>;
  readonly executionTime: Gauge<'job_name'>;
  readonly exitCode: Gauge<'job_name'>;
  readonly executions: Counter<'state' | 'executor'>;
  readonly duration: Histogram<'executor'>;
  readonly fires: Counter<'trigger'>;
  readonly skipped: Counter<'reason'>;
  readonly lateness: Histogram;
  readonly leaderChanges: Counter;
  readonly fsync: Histogram;
  readonly batch: Histogram;
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly requestDuration: Histogram<'method' | 'route'>;
  readonly notifications: Counter<'channel' | 'outcome'>;
  readonly notificationAttemptsFailed: Counter<'channel'>;

  constructor(registers: Registry[]) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    this.succeeded = new Counter({ name: 'dkron_job_executions_succeeded_total', help: 'Executions that succeeded, per job (Dkron\'s)', labelNames: ['job_name'], registers });
    this.failed = new Counter({ name: 'dkron_job_executions_failed_total', help: 'Executions that failed, were stopped or were lost, per job (Dkron\'s)', labelNames: ['job_name'], registers });
    this.executionTime = new Gauge({ name: 'dkron_job_execution_time_seconds', help: 'How long the job\'s last finished execution ran (Dkron\'s)', labelNames: ['job_name'], registers });
    this.exitCode = new Gauge({ name: 'dkron_job_exit_code', help: 'Exit code of the job\'s last finished execution that had one (Dkron\'s)', labelNames: ['job_name'], registers });
    this.executions = new Counter({ name: 'clocktower_executions_total', help: 'Finished executions by final state and executor', labelNames: ['state', 'executor'], registers });
    this.duration = new Histogram({ name: 'clocktower_execution_duration_seconds', help: 'Run time of finished executions, by executor', labelNames: ['executor'], buckets: [0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600], registers });
    this.fires = new Counter({ name: 'clocktower_fires_total', help: 'Fires committed (one per fire, whatever the number of nodes it runs on), by trigger', labelNames: ['trigger'], registers });
    this.skipped = new Counter({ name: 'clocktower_fires_skipped_total', help: 'Scheduled fires recorded as skipped, by reason', labelNames: ['reason'], registers });
    this.lateness = new Histogram({ name: 'clocktower_fire_lateness_seconds', help: 'Scheduled executions: the time they were started minus their scheduled time', buckets: secondsBuckets, registers });
    new Gauge({ name: 'clocktower_executions_running', help: 'Executions this server is running now (the leader: on every agent; light mode: in-process)', registers, collect() { this.set(self.running?.() ?? 0); } });
    new Gauge({ name: 'clocktower_agents_connected', help: 'Agents connected to this server (only the leader has any)', registers, collect() { this.set(self.agents?.().length ?? 0); } });
    new Gauge({
      name: 'clocktower_agent_executions_running', help: 'Executions running on each connected agent (leader only)', labelNames: ['agent'], registers,
      collect() { this.reset(); for (const a of self.agents?.() ?? []) this.set({ agent: a.node }, a.running); },
    });
    new Gauge({
      name: 'clocktower_agent_executions_queued', help: 'Executions waiting for a free slot on each connected agent (leader only)', labelNames: ['agent'], registers,
      collect() { this.reset(); for (const a of self.agents?.() ?? []) this.set({ agent: a.node }, a.queued); },
    });
    new Gauge({ name: 'clocktower_raft_term', help: 'This server\'s current Raft term', registers, collect() { this.set(self.raft?.().term ?? 0); } });
    new Gauge({ name: 'clocktower_raft_commit_index', help: 'The highest log index this server knows to be committed', registers, collect() { this.set(self.raft?.().commitIndex ?? 0); } });
    new Gauge({ name: 'clocktower_raft_applied_index', help: 'The highest log index this server has applied', registers, collect() { this.set(self.raft?.().appliedIndex ?? 0); } });
    new Gauge({ name: 'clocktower_raft_leader', help: '1 while this server leads (and fires), else 0', registers, collect() { this.set(self.raft?.().leader ? 1 : 0); } });
    this.leaderChanges = new Counter({ name: 'clocktower_raft_leader_changes_total', help: 'Times this server saw a new leader (itself included)', registers });
    this.fsync = new Histogram({ name: 'clocktower_raft_fsync_seconds', help: 'Time to append one batch of entries to the log and fsync it', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers });
    this.batch = new Histogram({ name: 'clocktower_raft_entries_per_batch', help: 'Entries appended per fsync (group commit)', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024], registers });
    this.requests = new Counter({ name: 'clocktower_http_requests_total', help: 'API requests by method, route pattern and status', labelNames: ['method', 'route', 'status'], registers });
    this.notifications = new Counter({ name: 'clocktower_notifications_total', help: 'Notification deliveries settled by this server as leader: delivered, or failed after their last attempt; by channel (webhook, mail)', labelNames: ['channel', 'outcome'], registers });
    this.notificationAttemptsFailed = new Counter({ name: 'clocktower_notification_attempts_failed_total', help: 'Notification delivery attempts that failed (each may be retried), by channel', labelNames: ['channel'], registers });
    this.requestDuration = new Histogram({ name: 'clocktower_http_request_duration_seconds', help: 'API request latency by method and route pattern', labelNames: ['method', 'route'], buckets: secondsBuckets, registers });
  }
}
