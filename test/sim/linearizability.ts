// A linearizability checker for a key-value history, in the style of Porcupine.
//
// A history is linearizable when every operation can be given one instant
// between its call and its return such that, taken in the order of those
// instants, the operations are a legal run of a sequential key-value store
// (absent keys read as ""). How it is checked:
//
// - P-compositionality: a KV store is a product of independent registers, so
//   the history is split by key and each key is checked alone (a history is
//   linearizable iff every key's sub-history is). This keeps the search small.
// - Wing & Gong's search: the calls and returns of one key are laid out in a
//   doubly linked list in time order. Walking it from the front, every call
//   met before the first remaining return belongs to an operation that may
//   go next; the walk tries each in turn by applying it to the register
//   model. An operation that fits is "lifted" (its call and return unlinked)
//   and pushed on a stack, and the walk restarts from the front. Meeting a
//   return means that operation had to take effect by now and none of the
//   candidates worked: pop the last choice, relink it and try the next
//   candidate after it. An empty stack at that point: not linearizable.
// - Lowe's memoization: the pair (set of operations linearized so far as a
//   bitset, register value) fully determines what can still happen, so each
//   pair is explored once; a pair seen before is a dead end. This turns the
//   factorial search into one bounded by the reachable (bitset, value) pairs.
//   Pairs are found by a Zobrist hash of the bitset and the value's number.
// - Reads first: a candidate that is legal now and never changes the value
//   (a get, a failed cas) may as well be placed at once: any linearization
//   that places it later stays legal with it moved here. So when there is one,
//   it is the node's only child; without this, every subset of the
//   concurrent reads of a value would be a node of its own.
// - Unknown outcomes (ret: null, "info" operations in Knossos terms) may take
//   effect at any time after their call or never. They sit in a second list
//   (calls only), and the search succeeds as soon as every operation with a
//   known outcome is linearized: the rest can take effect afterwards or not at
//   all, which no one observed. A get with an unknown outcome constrains
//   nothing and is dropped; a cas with an unknown outcome succeeds if the
//   register holds `from` where it is placed and is a no-op otherwise.
// - Unknown outcomes multiply the states (each may or may not be placed yet,
//   anywhere after its call), so the search avoids placements that cannot
//   help, each because another node it explores anyway can do at least as
//   much ("dominates" it):
//   - a node's candidates with a known outcome are tried before those without;
//   - the memo treats a node as explored when a node with the same known
//     operations placed and the same value, but only a subset of its unknown
//     outcomes placed, was explored: the extra ones need never be placed and
//     block no one;
//   - an unknown-outcome put right after another unknown outcome: placing it
//     without the other gives the same value with less placed;
//   - of unknown-outcome operations with the same input, the earliest called
//     is placed first (it can stand in for any of the others);
//   - an unknown-outcome write of a value nobody observed (no get returned it,
//     no cas went from it) can only help a failed cas, by making the value
//     differ from its `from`; so it is placed only when a failed cas among the
//     candidates is blocked by the current value.
// - Calls and returns at equal times count as concurrent (a call sorts before
//   a return at the same time), which can only make more histories pass.
// - maxSteps bounds the search per key (a step is one candidate tried, one
//   backtrack, or one switch between the two lists); past it the key is
//   reported as unknown (ok: false, timedOut: true: the run fails) rather than searched
//   forever. 2,000,000 steps take about 0.5-1 s here.
//
// Cost: linear-ish for histories with a few clients per key; the search is
// exponential in the number of operations in flight at once on one key. With
// 10 clients always busy on one key it decides in milliseconds to a few
// hundred ms (bench/linearizability.ts); with 20, rejecting often times out.
//
// When a key fails, the explanation shows the longest linearization the
// search found and the operation whose return it could not get past.

import { prng } from './prng.js';

export type KvInput =
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'get'; readonly key: string }
  | { readonly kind: 'cas'; readonly key: string; readonly from: string; readonly to: string };
export type KvOutput = { readonly value?: string; readonly ok?: boolean };
export interface Operation {
  readonly client: number;
  readonly input: KvInput;
  /** Logical times (e.g. simulation ticks × 1000 + sequence); call < ret. */
  readonly call: number;
  /** null: the client never learned the outcome (timed out / crashed) — it may or may not have taken effect, at any time after call. */
  readonly ret: number | null;
  readonly output: KvOutput | null;
}
export interface CheckResult { readonly ok: boolean; /** when !ok: a short human explanation (the smallest stuck prefix / the key) */ readonly explanation?: string; readonly timedOut?: boolean }

export const defaultMaxSteps = 2_000_000;

export function checkKvLinearizable(history: readonly Operation[], opts?: { maxSteps?: number }): CheckResult {
  const maxSteps = opts?.maxSteps ?? defaultMaxSteps;
  if (!Number.isInteger(maxSteps) || maxSteps <= 0) throw new Error(`checkKvLinearizable: maxSteps must be a positive integer, got ${maxSteps}`);
  if (!Array.isArray(history)) throw new Error('checkKvLinearizable: history must be an array of operations');
  history.forEach(validate);

  const byKey = new Map<string, Operation[]>();
  for (const op of history) {
    if (op.input.kind === 'get' && op.ret === null) continue;
    let ops = byKey.get(op.input.key);
    if (ops === undefined) byKey.set(op.input.key, (ops = []));
    ops.push(op);
  }

  const timedOut: string[] = [];
  for (const [key, ops] of byKey) {
    const r = checkRegister(ops, maxSteps);
    if (r.kind === 'fail') return { ok: false, explanation: `key ${JSON.stringify(key)}: ${r.explanation}` };
    if (r.kind === 'timeout') timedOut.push(key);
  }
  if (timedOut.length > 0) {
    const keys = timedOut.map((k) => JSON.stringify(k)).join(', ');
    // Unknown is not a pass: the run fails and says which keys were not decided.
    return { ok: false, timedOut: true, explanation: `unknown: gave up after ${maxSteps} steps on key${timedOut.length > 1 ? 's' : ''} ${keys}; the other keys are linearizable` };
  }
  return { ok: true };
}

function validate(op: Operation, i: number): void {
  const bad = (why: string): never => { throw new Error(`checkKvLinearizable: operation ${i}: ${why}`); };
  if (typeof op !== 'object' || op === null) bad('not an object');
  if (typeof op.input !== 'object' || op.input === null) bad('input missing');
  const input = op.input;
  if (typeof input.key !== 'string') bad('input.key must be a string');
  if (!Number.isFinite(op.call)) bad(`call must be a finite number, got ${String(op.call)}`);
  if (op.ret !== null) {
    if (!Number.isFinite(op.ret)) bad(`ret must be a finite number or null, got ${String(op.ret)}`);
    if (!(op.call < op.ret)) bad(`call (${op.call}) must be before ret (${op.ret})`);
    if (typeof op.output !== 'object' || op.output === null) bad('an operation that returned needs an output');
  } else if (op.output !== null && op.output !== undefined) {
    bad('ret is null (outcome unknown) but an output is given');
  }
  switch (input.kind) {
    case 'put':
      if (typeof input.value !== 'string') bad('put needs a string value');
      break;
    case 'get':
      if (op.output && op.output.value !== undefined && typeof op.output.value !== 'string') bad('get output.value must be a string or absent');
      break;
    case 'cas':
      if (typeof input.from !== 'string' || typeof input.to !== 'string') bad('cas needs string from and to');
      if (op.output && typeof op.output.ok !== 'boolean') bad('a cas that returned needs output.ok (boolean)');
      break;
    default:
      bad(`unknown input kind ${JSON.stringify((input as { kind?: unknown }).kind)}`);
  }
}

/** One call or return in the time-ordered list of a key's operations. */
interface Entry {
  readonly isCall: boolean;
  /** Index of the operation in the key's list. */
  readonly id: number;
  readonly time: number;
  /** A call's return; null for an operation with an unknown outcome (it never has to return). */
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

type RegisterResult = { kind: 'ok' } | { kind: 'timeout' } | { kind: 'fail'; explanation: string };

/** The register's value after `op` when applied to `state`, or null if `op`'s output rules it out there. */
function step(state: string, op: Operation): string | null {
  const input = op.input;
  switch (input.kind) {
    case 'get':
      return (op.output?.value ?? '') === state ? state : null;
    case 'put':
      return input.value;
    case 'cas':
      if (op.output === null) return state === input.from ? input.to : state;
      if (op.output.ok === true) return state === input.from ? input.to : null;
      return state !== input.from ? state : null;
  }
}

/** A search frame: the call that was lifted, the value before it, and which pass it was found in. */
interface Frame {
  readonly entry: Entry;
  readonly state: string;
  readonly pass: 1 | 2;
  /** Placed as the only child worth trying (see pureCandidate): backtracking past it leaves its node too. */
  readonly forced: boolean;
}

interface Best { readonly linearized: readonly number[]; readonly stuck: number; readonly state: string }

function checkRegister(ops: readonly Operation[], maxSteps: number): RegisterResult {
  const { known, unknown } = buildLists(ops);
  const memo = new Memo(ops);
  const blind = blindWrites(ops);
  const twins = earlierTwins(ops);
  const placed = new Uint8Array(ops.length);
  const stack: Frame[] = [];
  let remaining = ops.filter((op) => op.ret !== null).length;
  let state = '';
  // Pass 1 walks the candidates with a known outcome (the calls before the first return in
  // `known`), pass 2 those without (the calls in `unknown` up to that return's time).
  let pass: 1 | 2 = 1;
  let entry = known.next;
  let firstReturn: Entry | null = null;
  let steps = 0;
  let best: Best | null = null;
  /** Just arrived at a node (see pureCandidate). */
  let fresh = true;

  while (remaining > 0) {
    if (++steps > maxSteps) return { kind: 'timeout' };
    if (fresh) {
      // A new node: a candidate that is legal here and never changes the value (a read, a
      // failed cas) may as well go first, and then nothing else needs trying here.
      fresh = false;
      const pure = pureCandidate(known, ops, state);
      if (pure !== null) {
        memo.toggle(pure.id);
        if (memo.visit(state)) {
          descend(pure, state, true);
        } else {
          memo.toggle(pure.id);
          deadEnd();
        }
        continue;
      }
    }
    if (pass === 1 && (entry === null || !entry.isCall)) {
      pass = 2;
      firstReturn = entry ?? windowEnd(known);
      entry = unknown.next;
      continue;
    }
    if (pass === 2 && (entry === null || entry.time > (firstReturn as Entry).time)) {
      // `firstReturn` had to take effect by now, and no candidate led anywhere.
      const stuck = firstReturn as Entry;
      if (best === null || stack.length > best.linearized.length) best = { linearized: stack.map((f) => f.entry.id), stuck: stuck.id, state };
      const top = stack.pop();
      if (top === undefined) return { kind: 'fail', explanation: explain(ops, known, unknown, best) };
      memo.toggle(top.entry.id);
      placed[top.entry.id] = 0;
      if ((ops[top.entry.id] as Operation).ret !== null) remaining++;
      unlift(top.entry);
      state = top.state;
      if (top.forced) {
        deadEnd();
        continue;
      }
      pass = top.pass;
      entry = top.entry.next;
      if (pass === 2) firstReturn = windowEnd(known);
      continue;
    }
    const call = entry as Entry;
    const op = ops[call.id] as Operation;
    const next = pass === 2 && !worthPlacing(call.id) ? null : step(state, op);
    if (next !== null) {
      memo.toggle(call.id);
      if (memo.visit(next)) {
        descend(call, next, false);
        continue;
      }
      memo.toggle(call.id);
    }
    entry = call.next;
  }
  return { kind: 'ok' };

  /** Place `call`'s operation, giving value `next`, and go on from the new node. */
  function descend(call: Entry, next: string, forced: boolean): void {
    placed[call.id] = 1;
    stack.push({ entry: call, state, pass, forced });
    state = next;
    if ((ops[call.id] as Operation).ret !== null) remaining--;
    lift(call);
    pass = 1;
    entry = known.next;
    fresh = true;
  }

  /** Nothing more to try at this node: backtrack on the next step. */
  function deadEnd(): void {
    pass = 2;
    entry = null;
    firstReturn = windowEnd(known);
  }

  /** The pruning rules for unknown outcomes (see the top of the file). */
  function worthPlacing(id: number): boolean {
    const op = ops[id] as Operation;
    const last = stack[stack.length - 1];
    if (op.input.kind === 'put' && last !== undefined && (ops[last.entry.id] as Operation).ret === null) return false;
    if ((twins[id] as number[]).some((t) => placed[t] === 0)) return false;
    return blind[id] === 0 || unblocks(known, ops, state, written(op));
  }
}

/**
 * A candidate that is legal in `state` and never changes the value wherever it is placed: a
 * get, a failed cas (a put of the same value does not count: placed later, it could undo a write).
 */
function pureCandidate(known: Entry, ops: readonly Operation[], state: string): Entry | null {
  for (let e = known.next; e !== null && e.isCall; e = e.next) {
    const op = ops[e.id] as Operation;
    const pure = op.input.kind === 'get' || (op.input.kind === 'cas' && (op.output?.ok === false || op.input.from === op.input.to));
    if (pure && step(state, op) !== null) return e;
  }
  return null;
}

/** The first return in the list (while operations with a known outcome remain, there is one). */
function windowEnd(known: Entry): Entry {
  let e = known.next;
  while (e !== null && e.isCall) e = e.next;
  if (e === null) throw new Error('checkKvLinearizable: internal error: operations with a known outcome are left but none returns');
  return e;
}

/** What `op` writes when it takes effect (for a cas: when it succeeds). */
function written(op: Operation): string | null {
  return op.input.kind === 'put' ? op.input.value : op.input.kind === 'cas' ? op.input.to : null;
}

/** 1 for each unknown-outcome write of a value no get returned and no cas (succeeded or unknown) went from. */
function blindWrites(ops: readonly Operation[]): Uint8Array {
  const observed = new Set<string>();
  for (const op of ops) {
    const input = op.input;
    if (input.kind === 'get' && op.output !== null) observed.add(op.output.value ?? '');
    if (input.kind === 'cas' && op.output?.ok !== false) observed.add(input.from);
  }
  return Uint8Array.from(ops, (op) => {
    const v = written(op);
    return op.ret === null && v !== null && !observed.has(v) ? 1 : 0;
  });
}

/** Whether a failed cas among the current candidates is blocked by `state` and would not be by `value`. */
function unblocks(head: Entry, ops: readonly Operation[], state: string, value: string | null): boolean {
  for (let e = head.next; e !== null && e.isCall; e = e.next) {
    const op = ops[e.id] as Operation;
    if (op.input.kind === 'cas' && op.output?.ok === false && op.input.from === state && op.input.from !== value) return true;
  }
  return false;
}

/** For each unknown-outcome operation, the unknown-outcome operations with the same input called before it. */
function earlierTwins(ops: readonly Operation[]): number[][] {
  const seen = new Map<string, number[]>();
  const twins: number[][] = ops.map(() => []);
  const order = ops.map((_, i) => i).sort((a, b) => (ops[a] as Operation).call - (ops[b] as Operation).call || a - b);
  for (const i of order) {
    const op = ops[i] as Operation;
    if (op.ret !== null) continue;
    const input = JSON.stringify(op.input);
    const earlier = seen.get(input) ?? [];
    twins[i] = [...earlier];
    seen.set(input, [...earlier, i]);
  }
  return twins;
}

/**
 * Lowe's memo of the search nodes explored, extended for unknown outcomes: a
 * node is (operations with a known outcome placed, operations with an unknown
 * outcome placed, value). A node counts as explored when one with the same
 * known set and value and a subset of its unknown set was: that one can do
 * everything this one can. With no unknown outcomes it is the plain
 * (bitset, value) memo. Nodes are records in one growing Int32Array, chained
 * per hash: [next record or -1, value number, known words…, unknown words…].
 */
class Memo {
  private readonly known: Int32Array;
  private readonly unknown: Int32Array;
  /** Operation index → bit in `known`, or ~bit in `unknown`. */
  private readonly slot: Int32Array;
  /** A random word per operation with a known outcome; `hash` is the XOR of those placed. */
  private readonly zobrist: Int32Array;
  private hash = 0;
  private readonly values = new Map<string, number>();
  private readonly chains = new Map<number, number>();
  private readonly recordSize: number;
  private records = new Int32Array(1 << 12);
  private used = 0;

  constructor(ops: readonly Operation[]) {
    this.slot = new Int32Array(ops.length);
    this.zobrist = new Int32Array(ops.length);
    const rng = prng(0x1b873593);
    let k = 0;
    let u = 0;
    ops.forEach((op, i) => {
      this.slot[i] = op.ret !== null ? k++ : ~u++;
      this.zobrist[i] = rng.int(2 ** 32) | 0;
    });
    this.known = new Int32Array(Math.ceil(k / 32));
    this.unknown = new Int32Array(Math.ceil(u / 32));
    this.recordSize = 2 + this.known.length + this.unknown.length;
  }

  /** Mark operation `id` placed, or no longer. */
  toggle(id: number): void {
    const s = this.slot[id] as number;
    if (s >= 0) {
      this.known[s >> 5] = (this.known[s >> 5] as number) ^ (1 << (s & 31));
      this.hash ^= this.zobrist[id] as number;
    } else {
      this.unknown[~s >> 5] = (this.unknown[~s >> 5] as number) ^ (1 << (~s & 31));
    }
  }

  /** Record the current node with value `state`; false if it, or a node that dominates it, was explored. */
  visit(state: string): boolean {
    let value = this.values.get(state);
    if (value === undefined) this.values.set(state, (value = this.values.size));
    const h = (this.hash ^ Math.imul(value + 1, 0x9e3779b1)) & 0x3fffffff;
    const { known, unknown, records } = this;
    const first = this.chains.get(h) ?? -1;
    for (let at = first; at >= 0; at = records[at] as number) {
      if (records[at + 1] !== value) continue;
      let same = true;
      let w = at + 2;
      for (let i = 0; same && i < known.length; i++) same = records[w++] === known[i];
      for (let i = 0; same && i < unknown.length; i++) same = ((records[w++] as number) & ~(unknown[i] as number)) === 0;
      if (same) return false;
    }
    if (this.used + this.recordSize > this.records.length) {
      const grown = new Int32Array(this.records.length * 2);
      grown.set(this.records);
      this.records = grown;
    }
    const at = this.used;
    this.records[at] = first;
    this.records[at + 1] = value;
    this.records.set(known, at + 2);
    this.records.set(unknown, at + 2 + known.length);
    this.used += this.recordSize;
    this.chains.set(h, at);
    return true;
  }
}

/**
 * Two lists behind sentinels, in time order: the calls and returns of the operations with a
 * known outcome (a call before a return at equal times: concurrent), and the calls of those without.
 */
function buildLists(ops: readonly Operation[]): { known: Entry; unknown: Entry } {
  const known: Entry[] = [];
  const unknown: Entry[] = [];
  ops.forEach((op, id) => {
    const call: Entry = { isCall: true, id, time: op.call, match: null, prev: null, next: null };
    if (op.ret === null) {
      unknown.push(call);
    } else {
      call.match = { isCall: false, id, time: op.ret, match: null, prev: null, next: null };
      known.push(call, call.match);
    }
  });
  const link = (entries: Entry[]): Entry => {
    entries.sort((a, b) => a.time - b.time || Number(b.isCall) - Number(a.isCall) || a.id - b.id);
    const head: Entry = { isCall: false, id: -1, time: Number.NEGATIVE_INFINITY, match: null, prev: null, next: null };
    let last = head;
    for (const e of entries) {
      last.next = e;
      e.prev = last;
      last = e;
    }
    return head;
  };
  return { known: link(known), unknown: link(unknown) };
}

/** Unlink a call and its return, if it has one. */
function lift(call: Entry): void {
  (call.prev as Entry).next = call.next;
  if (call.next !== null) call.next.prev = call.prev;
  const ret = call.match;
  if (ret === null) return;
  (ret.prev as Entry).next = ret.next;
  if (ret.next !== null) ret.next.prev = ret.prev;
}

/** Undo lift (in reverse order): the unlinked entries still point at their old neighbours. */
function unlift(call: Entry): void {
  const ret = call.match;
  if (ret !== null) {
    (ret.prev as Entry).next = ret;
    if (ret.next !== null) ret.next.prev = ret;
  }
  (call.prev as Entry).next = call;
  if (call.next !== null) call.next.prev = call;
}

const listed = 6;

function explain(ops: readonly Operation[], known: Entry, unknown: Entry, best: Best): string {
  const fmt = (id: number): string => describe(ops[id] as Operation);
  const lin = best.linearized;
  const prefix = lin.length === 0
    ? 'no operation can go first'
    : `the longest linearization found takes ${lin.length} of ${ops.length} operations: ${lin.length > listed ? '… ' : ''}${lin.slice(-listed).map(fmt).join('; ')}`;
  // The lists are whole again: the candidates there were the calls before the stuck return not yet taken.
  const taken = new Set(lin);
  const stuck = ops[best.stuck] as Operation;
  const open: number[] = [];
  for (let e = known.next; e !== null && !(!e.isCall && e.id === best.stuck); e = e.next) if (e.isCall && !taken.has(e.id)) open.push(e.id);
  for (let e = unknown.next; e !== null && e.time <= (stuck.ret as number); e = e.next) if (!taken.has(e.id)) open.push(e.id);
  const candidates = open.length > listed ? `${open.slice(0, listed).map(fmt).join('; ')}; … (${open.length} in all)` : open.map(fmt).join('; ');
  return `not linearizable; ${prefix}. With the value then ${JSON.stringify(best.state)}, ${fmt(best.stuck)} must take effect before its return, `
    + `but no order of the operations open then works (${candidates})`;
}

/** e.g. `c2 cas "a"→"b" ok [10,25]`. */
export function describe(op: Operation): string {
  const when = `[${op.call},${op.ret ?? '?'}]`;
  const input = op.input;
  switch (input.kind) {
    case 'put':
      return `c${op.client} put ${JSON.stringify(input.value)} ${when}`;
    case 'get':
      return `c${op.client} get → ${op.output ? JSON.stringify(op.output.value ?? '') : '?'} ${when}`;
    case 'cas':
      return `c${op.client} cas ${JSON.stringify(input.from)}→${JSON.stringify(input.to)} ${op.output ? (op.output.ok ? 'ok' : 'failed') : '?'} ${when}`;
  }
}
