// Which agents run a fire, a retry or a child run: target selection
// (target-selection.ts) over the agents and their loads as the caller passes
// them in. Pure: no registry, no clock, randomness injected; the same agents,
// job and random source give the same choice.
//
// A planning pass (one event-loop turn of the dispatcher) lists the agents
// once, not once per fire, and each fire chosen in the pass counts as load.
// A second's fires are all chosen before any is committed and assigned, so
// without this every fire of a burst would see the same loads: a burst of
// untagged jobs would all go to the leader's own agent, far past its
// capacity, while other agents idled.

import type { Execution } from '../state/execution.js';
import type { Job } from '../state/job.js';
import { describeTags, selectOne, selectTargets, type AgentInfo } from './target-selection.js';

export interface ChooserOptions {
  /** This server's node name: its own agent is preferred for untagged jobs. */
  readonly selfNode: string;
  /** Uniform in [0, 1). */
  readonly random: () => number;
}

type JobTarget = Pick<Job, 'tags' | 'executor'>;

type PassAgent = { -readonly [K in keyof AgentInfo]: AgentInfo[K] };

/** The agents as one planning pass sees them: what it chose so far counts as load. */
export class PlanningPass {
  private readonly agents: PassAgent[];

  constructor(agents: readonly AgentInfo[], private readonly options: ChooserOptions) {
    this.agents = agents.map((a) => ({ ...a }));
  }

  /** Nodes for a new fire of the job; [""] when none qualifies (the run then fails saying why). */
  forFire(job: JobTarget): string[] {
    const choice = selectTargets(this.agents, { tags: job.tags, executor: job.executor, prefer: this.options.selfNode, random: this.options.random });
    if (!('nodes' in choice)) return [''];
    for (const node of choice.nodes) {
      const a = this.agents.find((x) => x.node === node);
      if (a) a.load++;
    }
    return [...choice.nodes];
  }

  /** The agents with this pass's choices counted. */
  loads(): readonly AgentInfo[] {
    return this.agents;
  }
}

export class AgentChooser {
  constructor(private readonly options: ChooserOptions) {}

  /** A planning pass over these agents (their loads as of its start). */
  pass(agents: readonly AgentInfo[]): PlanningPass {
    return new PlanningPass(agents, this.options);
  }

  /**
   * One node for a pending execution (a retry, a child run); "" when none
   * qualifies. `runs` are the job's executions (those of the same group are
   * its earlier attempts): the previous attempt's node is preferred unless it
   * was lost, and the group's nodes are avoided when another qualifies.
   */
  forStart(agents: readonly AgentInfo[], job: JobTarget, e: Execution, runs: readonly Execution[]): string {
    const group = runs.filter((x) => x.group === e.group && x.id !== e.id);
    const previous = group.filter((x) => x.attempt === e.attempt - 1).at(-1);
    const choice = selectOne(agents, {
      tags: job.tags, executor: job.executor, random: this.options.random,
      ...(previous && previous.state !== 'lost' ? { prefer: previous.nodeName } : {}),
      avoid: group.map((x) => x.nodeName),
    });
    return 'nodes' in choice ? (choice.nodes[0] ?? '') : '';
  }

  /** Why no agent runs the job, for the failed execution's error. */
  noTargetReason(agents: readonly AgentInfo[], job: JobTarget): string {
    const choice = selectTargets(agents, { tags: job.tags, executor: job.executor, prefer: this.options.selfNode, random: this.options.random });
    return 'error' in choice ? choice.error : `no agent was available for the job's tags ${describeTags(job.tags)} when it fired`;
  }
}
