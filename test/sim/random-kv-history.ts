// Random key-value histories that are linearizable by construction: clients
// issue operations one after another with random overlapping intervals, and
// a real sequential map applies each one at a random instant inside its
// interval (its linearization point), which decides the output. Some
// operations end with an unknown outcome (ret: null); of those, half took
// effect at their point and half never did, and the client is replaced by a
// new one (as a crashed or timed-out client would be).

import type { KvInput, KvOutput, Operation } from './linearizability.js';
import type { Prng } from './prng.js';

export interface RandomHistoryOptions {
  readonly clients: number;
  readonly opsPerClient: number;
  readonly keys: number;
  /** Chance that an operation's outcome stays unknown. */
  readonly unknownRate?: number;
  /** Longest pause between a client's operations, and longest half-duration of one. */
  readonly gap?: number;
  readonly duration?: number;
}

interface Draft {
  client: number;
  kind: KvInput['kind'];
  key: string;
  call: number;
  point: number;
  ret: number;
  unknown: boolean;
  /** Only for unknown outcomes: whether it took effect at `point`. */
  applied: boolean;
}

export function randomKvHistory(rng: Prng, o: RandomHistoryOptions): Operation[] {
  const unknownRate = o.unknownRate ?? 0.05;
  const gap = o.gap ?? 5;
  const duration = o.duration ?? 20;
  const keys = Array.from({ length: o.keys }, (_, i) => `k${i}`);
  const drafts: Draft[] = [];
  let nextClient = o.clients;
  for (let c = 0; c < o.clients; c++) {
    let client = c;
    let t = rng.int(gap + 1);
    for (let i = 0; i < o.opsPerClient; i++) {
      const call = t + rng.int(gap + 1);
      const point = call + 1 + rng.int(duration);
      const ret = point + 1 + rng.int(duration);
      const r = rng.next();
      const kind: KvInput['kind'] = r < 0.45 ? 'get' : r < 0.8 ? 'put' : 'cas';
      const unknown = rng.chance(unknownRate);
      drafts.push({ client, kind, key: rng.pick(keys), call, point, ret, unknown, applied: rng.chance(0.5) });
      t = ret;
      if (unknown) client = nextClient++;
    }
  }

  // Apply in the order of the linearization points; inputs are chosen here, knowing the value, so that cas succeeds often.
  const order = drafts.map((_, i) => i).sort((a, b) => (drafts[a] as Draft).point - (drafts[b] as Draft).point || a - b);
  const map = new Map<string, string>();
  const ops: Operation[] = new Array<Operation>(drafts.length);
  let fresh = 0;
  const value = (): string => (rng.chance(0.2) ? rng.pick(['', 'x', 'y']) : `v${++fresh}`);
  for (const i of order) {
    const d = drafts[i] as Draft;
    const current = map.get(d.key) ?? '';
    const takesEffect = !d.unknown || d.applied;
    let input: KvInput;
    let output: KvOutput;
    switch (d.kind) {
      case 'get':
        input = { kind: 'get', key: d.key };
        output = map.has(d.key) ? { value: current } : {};
        break;
      case 'put':
        input = { kind: 'put', key: d.key, value: value() };
        output = {};
        if (takesEffect) map.set(d.key, input.value);
        break;
      case 'cas': {
        const from = rng.chance(0.6) ? current : value();
        input = { kind: 'cas', key: d.key, from, to: value() };
        output = { ok: current === from };
        if (takesEffect && current === from) map.set(d.key, input.to);
        break;
      }
    }
    ops[i] = d.unknown
      ? { client: d.client, input, call: d.call, ret: null, output: null }
      : { client: d.client, input, call: d.call, ret: d.ret, output };
  }
  return ops;
}
