// One seeded simulation run: a 3- or 5-server cluster of the real Raft core
// and state machine over a simulated network and disk, under loss, delay,
// reordering, duplication, partitions (one-way too), crashes with torn
// writes, membership changes and leadership transfers, while clients read
// and write and the leader's real dispatcher fires jobs on the simulated
// clock (each server's skewed by up to a few seconds). Safety is checked at
// every step (SafetyChecks: no scheduled second fires twice, and none is
// passed over without a fire or a skip record); after a calm phase the
// cluster must make progress again, and the client history must be
// linearizable. The dispatcher is asynchronous: after each step the run
// lets its promise continuations run (they only ever wait on the simulation).

import { bootstrapState, joiningState } from '../../server/raft/bootstrap.js';
import { prng, type Prng } from './prng.js';
import { History, writeCommand, type KvInput, type PendingOp } from './sim-history.js';
import { SafetyChecks, SafetyViolation } from './sim-invariants.js';
import { SimNetwork } from './sim-network.js';
import { SimServer, type ServerEnv } from './sim-server.js';
import type { Timers } from '../../server/dispatch/timer-heap.js';
import { CommandType } from '../../server/state/commands.js';
import { defaultCatchUp, type JobSpec } from '../../server/state/job.js';

export interface SimOptions {
  readonly seed: number;
  readonly servers: 3 | 5;
  /** Ticks with faults, before the calm phase. */
  readonly ticks?: number;
  /** Fault injection for the checker's own tests (see ServerEnv). */
  readonly unsafeEarlyFiring?: boolean;
  readonly unsafeStaleReads?: boolean;
  readonly trace?: (line: string) => void;
}

export interface SimStats {
  ticks: number;
  elections: number;
  maxTerm: number;
  committed: number;
  fires: number;
  /** Tasks of workflow runs started (first attempts). */
  workflowTasks: number;
  opsOk: number;
  opsFailed: number;
  opsUnknown: number;
  crashes: number;
  tornWrites: number;
  partitions: number;
  confChanges: number;
  transfers: number;
  messages: number;
  lost: number;
  duplicated: number;
  checks: number;
}

export interface SimRun {
  readonly stats: SimStats;
  readonly history: History;
  /** A safety or liveness failure, as one line. */
  readonly failure: string | null;
}

const tickMs = 100;
const calmTicks = 200;
const clients = 3;
const keys = ['k0', 'k1', 'k2'];

const wfJob = (name: string, over: Partial<JobSpec>): JobSpec => ({
  name, displayName: '', timezone: '', schedule: '', owner: '', ownerEmail: '', disabled: false, tags: {}, metadata: {}, retries: 0,
  parentJob: '', processors: {}, concurrency: 'allow', executor: 'shell', executorConfig: { command: 'true' }, ephemeral: false,
  startsAtMs: null, expiresAtMs: null, catchUp: defaultCatchUp, ...over,
});
const workflowJobs: JobSpec[] = [
  wfJob('wf-root', { schedule: '@every 1s' }),
  wfJob('wf-left', { dependsOn: [{ job: 'wf-root', on: 'success' }] }),
  wfJob('wf-right', { dependsOn: [{ job: 'wf-root', on: 'done' }] }),
  wfJob('wf-join', { dependsOn: [{ job: 'wf-left', on: 'success' }, { job: 'wf-right', on: 'success' }] }),
];

export function simulate(options: SimOptions): Promise<SimRun> {
  const sim = new Simulation(options);
  return sim.run();
}

/** Timers on the simulated clock, fired in (time, creation) order by the run. */
class SimTimers implements Timers {
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();

  constructor(private readonly nowMs: () => number) {}

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { at: this.nowMs() + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  /** Run every timer due by now, earliest first (a timer may set new ones). */
  runDue(): void {
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | null = null;
      for (const entry of this.pending) {
        if (entry[1].at > this.nowMs()) continue;
        if (next === null || entry[1].at < next[1].at || (entry[1].at === next[1].at && entry[0] < next[0])) next = entry;
      }
      if (next === null) return;
      this.pending.delete(next[0]);
      next[1].fn();
    }
  }
}

/** Let promise continuations run: nothing else is pending (the simulation uses no real I/O or timers). */
function continuations(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

class Simulation {
  private readonly random: Prng;
  private readonly checks = new SafetyChecks();
  private readonly history = new History();
  private readonly network: SimNetwork;
  private readonly servers = new Map<string, SimServer>();
  private readonly restartAt = new Map<string, number>();
  private readonly clientOps: (PendingOp | null)[] = Array.from({ length: clients }, () => null);
  private now = 0;
  private nextId: number;
  private healAt = -1;
  private readonly env: ServerEnv;
  private readonly timers = new SimTimers(() => this.now * tickMs);
  private readonly faults: { crash: number; partition: number; conf: number; transfer: number; spurious: number };
  private readonly stats: SimStats = {
    ticks: 0, elections: 0, maxTerm: 0, committed: 0, fires: 0, workflowTasks: 0, opsOk: 0, opsFailed: 0, opsUnknown: 0, crashes: 0, tornWrites: 0,
    partitions: 0, confChanges: 0, transfers: 0, messages: 0, lost: 0, duplicated: 0, checks: 0,
  };

  constructor(private readonly options: SimOptions) {
    this.random = prng(options.seed * 2654435761);
    const r = this.random;
    // Each seed draws its own weather, from calm to stormy.
    this.network = new SimNetwork(r, { loss: r.pick([0, 0.01, 0.05, 0.15]), duplicate: r.pick([0, 0.02, 0.1]), maxDelay: r.pick([0, 1, 3, 8]) });
    this.faults = {
      crash: r.pick([0, 0.005, 0.02]),
      partition: r.pick([0, 0.01, 0.03]),
      conf: r.pick([0, 0.02, 0.05]),
      transfer: r.pick([0, 0.01, 0.03]),
      spurious: r.pick([0, 0.01, 0.05]),
    };
    this.env = {
      random: r,
      checks: this.checks,
      history: this.history,
      send: (messages) => this.network.send(this.now, messages),
      nowMs: () => this.now * tickMs,
      timers: this.timers,
      config: { electionTicks: 10, heartbeatTicks: 1, preVote: true, checkQuorum: true, maxInflight: r.pick([1, 4, 256]), maxBytesPerMessage: r.pick([200, 64 * 1024]) },
      tornWrite: r.pick([0, 0.01, 0.05]),
      compactEvery: r.pick([10, 40, 160, 100_000]),
      historyLimit: r.pick([3, 10, 25]),
      ...(options.unsafeEarlyFiring ? { unsafeEarlyFiring: true } : {}),
      ...(options.unsafeStaleReads ? { unsafeStaleReads: true } : {}),
    };
    const ids = Array.from({ length: options.servers }, (_, i) => `s${i + 1}`);
    this.nextId = ids.length + 1;
    const boot = bootstrapState(ids.map((id) => ({ id, address: '' })));
    for (const id of ids) {
      const server = new SimServer(id, { hardState: boot.hardState, snapshot: null, entries: [...boot.entries] }, this.env, this.skew());
      server.start(r.int(2 ** 31), boot);
      this.servers.set(id, server);
    }
  }

  /** A server's clock offset: most agree, some run a few seconds ahead or behind. */
  private skew(): number {
    return this.random.pick([0, 0, 0, 400, -700, 1500, -1500, 3000, -3000]);
  }

  private trace(line: string): void {
    this.options.trace?.(`t=${this.now} ${line}`);
  }

  async run(): Promise<SimRun> {
    const faultTicks = this.options.ticks ?? 300;
    let failure: string | null = null;
    try {
      for (; this.now < faultTicks; this.now++) {
        this.weather();
        this.step();
        await this.settleContinuations();
      }
      this.calm();
      const okBefore = this.history.ok;
      for (; this.now < faultTicks + calmTicks; this.now++) {
        this.step();
        await this.settleContinuations();
      }
      if (this.history.ok === okBefore) failure = `liveness: no client operation completed in the ${calmTicks} ticks after healing`;
    } catch (err) {
      failure = err instanceof SafetyViolation ? `safety: ${err.message}` : `crash: ${err instanceof Error ? err.stack ?? err.message : String(err)}`;
      if (this.options.trace) {
        for (const s of this.servers.values()) {
          const log = s.logView();
          const terms: string[] = [];
          for (let i = Math.max(log.snapshotIndex, log.lastIndex - 12); i <= log.lastIndex; i++) terms.push(`${i}:${log.termAt(i) ?? '?'}`);
          this.trace(`${s.id} ${s.up ? 'up' : 'down'} term ${s.disk.hardState.term} vote ${s.disk.hardState.vote || '-'} applied ${s.applied} log ${terms.join(' ')}`);
        }
      }
    }
    for (const op of this.clientOps) if (op) this.history.giveUp(op);
    Object.assign(this.stats, {
      ticks: this.now, elections: this.checks.elections, maxTerm: this.checks.maxTerm, fires: this.checks.fires,
      committed: Math.max(...[...this.servers.values()].map((s) => s.applied)),
      opsOk: this.history.ok, opsFailed: this.history.failed, opsUnknown: this.history.unknown,
      messages: this.network.sent, lost: this.network.lost, duplicated: this.network.duplicated, checks: this.checks.checks,
      workflowTasks: this.checks.tasksStarted,
    });
    return { stats: this.stats, history: this.history, failure };
  }

  // ---------------------------------------------------------------- one tick

  private step(): void {
    for (const s of this.servers.values()) s.core?.tick();
    for (const m of this.network.due(this.now)) {
      const to = this.servers.get(m.to);
      if (!to?.core) continue;
      to.core.step(m);
      this.settle(to);
    }
    for (const r of this.network.takeSnapshotReports()) {
      const from = this.servers.get(r.from);
      if (!from?.core) continue;
      from.core.reportSnapshot(r.to, r.ok);
      this.settle(from);
    }
    for (const s of this.servers.values()) this.settle(s);
    this.timers.runDue();
    for (const s of this.servers.values()) this.settle(s);
    this.clients();
    this.workflow();
    if (this.options.trace) this.traceLeaders();
  }

  /**
   * A workflow the scheduler runs every second (a diamond: root, two tasks,
   * a join), written until it is stored: every run's tasks are checked to
   * start once (SafetyChecks.taskStarted) across crashes and leader changes.
   */
  private workflow(): void {
    if (this.now % 25 !== 5) return;
    const leader = this.leader();
    if (!leader || leader.sm.job('wf-join')) return;
    leader.propose({ type: CommandType.PutJobs, atMs: leader.nowMs(), jobs: workflowJobs });
  }

  /** The dispatchers' continuations (commits answered, executions finished), then what they proposed. */
  private async settleContinuations(): Promise<void> {
    await continuations();
    for (const s of this.servers.values()) this.settle(s);
  }

  private readonly tracedLeaders = new Set<string>();
  private traceLeaders(): void {
    for (const s of this.servers.values()) {
      if (!s.isLeader || !s.core) continue;
      const key = `${s.id}@${s.core.term}`;
      if (this.tracedLeaders.has(key)) continue;
      this.tracedLeaders.add(key);
      const log = s.logView();
      this.trace(`leader ${s.id} term ${s.core.term} (log ${log.snapshotIndex}+..${log.lastIndex}, commit ${s.core.commitIndex}, voters ${s.core.conf().voters.join(',')})`);
    }
  }

  /** Process a server's Readys; a torn write takes it down until its restart. */
  private settle(s: SimServer): void {
    s.process();
    if (s.crashedMidWrite) {
      s.crashedMidWrite = false;
      this.stats.tornWrites++;
      this.down(s, 'torn write');
    }
  }

  private down(s: SimServer, why: string): void {
    if (s.up) s.crash();
    this.stats.crashes++;
    this.network.dropTo(s.id);
    // Its connections reset: most peers' transports notice at once.
    for (const peer of this.servers.values()) if (peer.up && this.random.chance(0.7)) this.unreachable(peer, s.id);
    this.restartAt.set(s.id, this.now + 5 + this.random.int(60));
    this.trace(`crash ${s.id} (${why})`);
  }

  // ---------------------------------------------------------------- faults

  private weather(): void {
    const r = this.random;
    for (const [id, at] of this.restartAt) {
      if (at > this.now) continue;
      this.restartAt.delete(id);
      this.servers.get(id)?.start(r.int(2 ** 31));
      this.trace(`restart ${id}`);
    }
    if (r.chance(this.faults.crash)) {
      const up = [...this.servers.values()].filter((s) => s.up);
      if (up.length > 0) this.down(r.pick(up), 'killed');
    }
    if (this.healAt === this.now) {
      this.network.heal();
      this.trace('heal');
    }
    if (!this.network.partitioned && r.chance(this.faults.partition)) this.partition();
    if (r.chance(this.faults.spurious)) {
      // A transport reports a peer unreachable although it is fine.
      const ids = [...this.servers.keys()];
      this.unreachable(this.servers.get(r.pick(ids)), r.pick(ids));
    }
    const leader = this.leader();
    if (leader && r.chance(this.faults.conf)) this.changeMembership(leader);
    if (leader?.core && r.chance(this.faults.transfer)) {
      const others = leader.core.conf().voters.filter((v) => v !== leader.id);
      if (others.length > 0) {
        const to = r.pick(others);
        if (leader.core.transferLeadership(to)) {
          this.stats.transfers++;
          this.trace(`transfer ${leader.id} -> ${to}`);
        }
      }
    }
  }

  private unreachable(at: SimServer | undefined, peer: string): void {
    if (!at?.core || at.id === peer) return;
    at.core.reportUnreachable(peer);
    this.settle(at);
  }

  private partition(): void {
    const r = this.random;
    const ids = [...this.servers.keys()];
    const side = new Set(ids.filter(() => r.chance(0.5)));
    if (side.size === 0 || side.size === ids.length) return;
    const oneWay = r.chance(0.3);
    for (const a of side) {
      for (const b of ids) {
        if (side.has(b)) continue;
        this.network.block(a, b);
        if (!oneWay) this.network.block(b, a);
      }
    }
    for (const a of ids) for (const b of ids) if (this.network.isBlocked(b, a) && r.chance(0.5)) this.unreachable(this.servers.get(a), b);
    this.healAt = this.now + 10 + r.int(80);
    this.stats.partitions++;
    this.trace(`partition ${[...side].join(',')} | rest${oneWay ? ' (one-way)' : ''}`);
  }

  private changeMembership(leader: SimServer): void {
    const core = leader.core;
    if (!core) return;
    const { voters, learners } = core.conf();
    const r = this.random;
    let change: { type: 'addVoter' | 'addLearner' | 'remove'; node: string } | null = null;
    const learner = learners[0];
    if (learner !== undefined) {
      const match = core.replicationStatus().get(learner) ?? 0;
      if (match + 5 >= core.commitIndex) change = { type: 'addVoter', node: learner };
      else if (r.chance(0.1)) change = { type: 'remove', node: learner };
    } else if (voters.length <= this.options.servers) {
      const id = `s${this.nextId++}`;
      const server = new SimServer(id, { hardState: joiningState.hardState, snapshot: null, entries: [] }, this.env, this.skew());
      server.start(r.int(2 ** 31), joiningState);
      this.servers.set(id, server);
      change = { type: 'addLearner', node: id };
    } else {
      change = { type: 'remove', node: r.pick(voters) };
    }
    if (change === null) return;
    if (core.proposeConfChange({ ...change, address: '' })) {
      this.stats.confChanges++;
      this.trace(`propose ${change.type} ${change.node} by ${leader.id}`);
    }
  }

  private calm(): void {
    this.network.heal();
    this.healAt = -1;
    this.network.faults = { loss: 0, duplicate: 0, maxDelay: 1 };
    this.env.tornWrite = 0;
    for (const id of this.restartAt.keys()) this.servers.get(id)?.start(this.random.int(2 ** 31));
    this.restartAt.clear();
    this.trace('calm: healed, everyone restarted');
  }

  private leader(): SimServer | null {
    let best: SimServer | null = null;
    for (const s of this.servers.values()) {
      if (s.isLeader && (best === null || (s.core?.term ?? 0) > (best.core?.term ?? 0))) best = s;
    }
    return best;
  }

  // ---------------------------------------------------------------- clients

  private clients(): void {
    const r = this.random;
    for (const [c, op] of this.clientOps.entries()) {
      if (op && !op.settled && this.now >= op.deadline) {
        this.history.giveUp(op);
        for (const s of this.servers.values()) s.dropSettled();
      }
      if (op && !op.settled) continue;
      this.clientOps[c] = null;
      if (!r.chance(0.3)) continue;
      const key = r.pick(keys);
      const input: KvInput = r.chance(0.5) ? { kind: 'get', key } : { kind: 'put', key, value: r.chance(0.15) ? '' : `c${c}.${this.now}` };
      const next = this.history.begin(c, input, this.now + 40);
      this.clientOps[c] = next;
      this.submit(next, r.pick([...this.servers.keys()]));
    }
  }

  private submit(op: PendingOp, to: string): void {
    let target = this.servers.get(to);
    if (!target?.up) {
      this.history.fail(op); // connection refused
      return;
    }
    if (op.input.kind === 'get') {
      target.read(op);
      return;
    }
    for (let hops = 0; hops < 3 && target; hops++) {
      // Stamped by the server that proposes it, with its own (skewed) clock, as the API does.
      const redirect: string | null = target.write(op, writeCommand(op.input.key, op.input.value, target.nowMs()));
      if (redirect === null) return;
      target = this.servers.get(redirect);
      if (!target?.up) break;
    }
    this.history.fail(op);
  }
}
