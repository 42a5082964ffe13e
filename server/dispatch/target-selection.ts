// Which agents run a fire of a job: Dkron's `tags` semantics, as a pure
// function of the agents, the job and an injected random source.
//
// - Every job tag must equal the agent's tag (AND). A value may end in
//   `:N` (Dkron's cardinality): then N of the matching agents run it, picked
//   at random; with several counts the lowest wins. A count that is not a
//   whole number is an error (Dkron silently ran nothing).
// - Tags without a count: every matching agent runs it (Dkron).
// - No tags at all: ONE agent runs it, the preferred one (the leader's own)
//   when it can, otherwise one picked at random. Dkron runs such a job on
//   every node, which its users keep reporting as duplicate runs.
// - Only agents that have the job's executor count; agents with free
//   capacity are picked before full ones (a full agent queues the run).

export interface AgentInfo {
  readonly node: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly executors: readonly string[];
  /** Executions it runs at once. */
  readonly capacity: number;
  /** Executions assigned to it and not finished. */
  readonly load: number;
  /** Shutting down: assign it nothing. */
  readonly leaving: boolean;
}

export interface TargetRequest {
  readonly tags: Readonly<Record<string, string>>;
  readonly executor: string;
  /** With no tags, run here if this agent qualifies (the leader's own agent). */
  readonly prefer?: string;
  /** Uniform in [0, 1). */
  readonly random: () => number;
}

export type TargetChoice = { readonly nodes: readonly string[] } | { readonly error: string };

/** Parse `value[:count]` tags into exact values and the lowest count (null: no count). */
export function parseTags(tags: Readonly<Record<string, string>>): { values: Record<string, string>; count: number | null } | { error: string } {
  const values: Record<string, string> = {};
  let count: number | null = null;
  for (const [key, raw] of Object.entries(tags)) {
    const colon = raw.indexOf(':');
    if (colon < 0) {
      values[key] = raw;
      continue;
    }
    const n = raw.slice(colon + 1);
    if (!/^\d+$/.test(n)) return { error: `tag ${key}="${raw}": the count after ":" must be a whole number` };
    values[key] = raw.slice(0, colon);
    count = Math.min(count ?? Infinity, Number(n));
  }
  return { values, count };
}

export function describeTags(tags: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(tags).map(([k, v]) => `${k}=${v}`);
  return pairs.length === 0 ? '(no tags)' : pairs.join(',');
}

export function matches(agent: AgentInfo, values: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(values)) if (agent.tags[k] !== v) return false;
  return true;
}

export function selectTargets(agents: readonly AgentInfo[], req: TargetRequest): TargetChoice {
  const parsed = parseTags(req.tags);
  if ('error' in parsed) return parsed;
  const tagged = agents.filter((a) => !a.leaving && matches(a, parsed.values));
  const able = req.executor === '' ? tagged : tagged.filter((a) => a.executors.includes(req.executor));
  if (able.length === 0) return { error: noTargetMessage(agents, req, tagged.length) };
  if (Object.keys(req.tags).length === 0) {
    const preferred = able.find((a) => a.node === req.prefer && a.load < a.capacity);
    if (preferred) return { nodes: [preferred.node] };
    return { nodes: pick(able, 1, req.random) };
  }
  if (parsed.count === null) return { nodes: able.map((a) => a.node).sort() };
  if (parsed.count === 0) return { error: `the job's tags ${describeTags(req.tags)} ask for 0 agents` };
  return { nodes: pick(able, parsed.count, req.random) };
}

/** One agent for a retry or a child run: the previous attempt's agent if it still qualifies (Dkron), else another. */
export function selectOne(agents: readonly AgentInfo[], req: TargetRequest & { readonly avoid?: readonly string[] }): TargetChoice {
  const parsed = parseTags(req.tags);
  if ('error' in parsed) return parsed;
  const tagged = agents.filter((a) => !a.leaving && matches(a, parsed.values));
  const able = req.executor === '' ? tagged : tagged.filter((a) => a.executors.includes(req.executor));
  if (able.length === 0) return { error: noTargetMessage(agents, req, tagged.length) };
  const preferred = able.find((a) => a.node === req.prefer);
  if (preferred) return { nodes: [preferred.node] };
  const avoid = new Set(req.avoid ?? []);
  const fresh = able.filter((a) => !avoid.has(a.node));
  return { nodes: pick(fresh.length > 0 ? fresh : able, 1, req.random) };
}

function noTargetMessage(agents: readonly AgentInfo[], req: TargetRequest, tagged: number): string {
  const seen = agents.map((a) => `${a.node}${a.leaving ? ' (leaving)' : ''} [${describeTags(a.tags)}]`).join('; ');
  const why = tagged > 0
    ? `no agent matching the job's tags ${describeTags(req.tags)} has the executor "${req.executor}"`
    : `no alive agent matches the job's tags ${describeTags(req.tags)}`;
  return `${why}; connected agents: ${seen === '' ? 'none' : seen}`;
}

/** `n` distinct agents at random, those with free capacity first. */
function pick(candidates: readonly AgentInfo[], n: number, random: () => number): string[] {
  const free = shuffle(candidates.filter((a) => a.load < a.capacity), random);
  const full = shuffle(candidates.filter((a) => a.load >= a.capacity), random);
  return [...free, ...full].slice(0, n).map((a) => a.node);
}

function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const a = out[i] as T;
    out[i] = out[j] as T;
    out[j] = a;
  }
  return out;
}
