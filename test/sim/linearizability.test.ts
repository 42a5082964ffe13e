// The key-value linearizability checker: hand-made histories with a known
// answer, then seeded random histories (linearizable by construction, and
// with one read corrupted), cross-checked against brute force when small.
import t from 'tap';
import { checkKvLinearizable, describe, type Operation } from './linearizability.js';
import { prng, type Prng } from './prng.js';
import { randomKvHistory } from './random-kv-history.js';

/** The assertions the helpers below use (a subtest has them all). */
type Asserts = Pick<typeof t, 'equal' | 'same' | 'notOk' | 'type'>;

const put = (client: number, key: string, value: string, call: number, ret: number | null): Operation =>
  ({ client, input: { kind: 'put', key, value }, call, ret, output: ret === null ? null : {} });
const get = (client: number, key: string, value: string | undefined, call: number, ret: number | null): Operation =>
  ({ client, input: { kind: 'get', key }, call, ret, output: ret === null ? null : value === undefined ? {} : { value } });
const cas = (client: number, key: string, from: string, to: string, ok: boolean | null, call: number, ret: number | null): Operation =>
  ({ client, input: { kind: 'cas', key, from, to }, call, ret, output: ok === null ? null : { ok } });

const pass = (t: Asserts, h: readonly Operation[], what: string): void => {
  const r = checkKvLinearizable(h);
  t.same(r, { ok: true }, what);
};
const fail = (t: Asserts, h: readonly Operation[], what: string): string => {
  const r = checkKvLinearizable(h);
  t.equal(r.ok, false, what);
  t.notOk(r.timedOut, `${what}: decided, not timed out`);
  t.type(r.explanation, 'string', `${what}: explained`);
  return r.explanation ?? '';
};

t.test('empty and trivial histories', async (t) => {
  pass(t, [], 'nothing happened');
  pass(t, [get(1, 'x', undefined, 0, 10)], 'an absent key reads as undefined');
  pass(t, [get(1, 'x', '', 0, 10)], 'an absent key reads as ""');
  fail(t, [get(1, 'x', 'a', 0, 10)], 'a read of a value no one wrote');
  pass(t, [put(1, 'x', 'a', 0, 10), get(1, 'x', 'a', 20, 30)], 'read your write');
  pass(t, [put(1, 'x', '', 0, 10), get(2, 'x', undefined, 20, 30)], 'a put of "" reads like an absent key');
});

t.test('a stale read after a completed write', async (t) => {
  const why = fail(t, [put(1, 'x', 'a', 0, 10), put(1, 'x', 'b', 20, 30), get(2, 'x', 'a', 40, 50)], 'reads the older value after the newer write returned');
  t.match(why, /key "x"/, 'names the key');
  t.match(why, /c2 get → "a" \[40,50\] must take effect/, 'names the read that is stuck');
  t.match(why, /takes 2 of 3 operations/, 'the two writes linearize');
  pass(t, [put(1, 'x', 'a', 0, 10), put(1, 'x', 'b', 20, 45), get(2, 'x', 'a', 40, 50)], 'the same read is fine while the newer write is still in flight');
  fail(t, [put(1, 'x', 'a', 0, 10), get(2, 'x', undefined, 20, 30)], 'reads nothing after a write returned');
});

t.test('two concurrent writes seen in different orders by two readers', async (t) => {
  const writes = [put(1, 'x', 'a', 0, 100), put(2, 'x', 'b', 0, 100)];
  fail(t, [
    ...writes,
    get(3, 'x', 'a', 10, 20), get(3, 'x', 'b', 30, 40),
    get(4, 'x', 'b', 10, 20), get(4, 'x', 'a', 30, 40),
  ], 'a then b for one reader, b then a for the other');
  pass(t, [
    ...writes,
    get(3, 'x', 'a', 10, 20), get(3, 'x', 'b', 30, 40),
    get(4, 'x', 'a', 10, 20), get(4, 'x', 'b', 30, 40),
  ], 'both readers see a then b');
  pass(t, [
    ...writes,
    get(3, 'x', 'a', 10, 20), get(3, 'x', 'b', 30, 40),
    get(4, 'x', 'b', 30, 40), get(4, 'x', 'b', 50, 60),
  ], 'the second reader only sees b');
});

t.test('a lost write', async (t) => {
  fail(t, [put(1, 'x', 'a', 0, 10), put(2, 'x', 'b', 5, 15), get(3, 'x', 'a', 20, 30), get(3, 'x', 'b', 40, 50), get(3, 'x', 'a', 60, 70)],
    'a value comes back after it was overwritten and read');
  pass(t, [put(1, 'x', 'a', 0, 10), put(2, 'x', 'b', 5, 15), get(3, 'x', 'a', 20, 30), get(3, 'x', 'a', 40, 50)],
    'concurrent writes may land in either order');
  fail(t, [put(1, 'x', 'a', 0, 10), put(2, 'x', 'b', 5, 15), get(3, 'x', 'a', 20, 30), get(4, 'x', 'b', 22, 28)],
    'after both writes returned, two overlapping reads cannot see different values');
});

t.test('compare-and-set', async (t) => {
  pass(t, [cas(1, 'x', '', 'a', true, 0, 10), cas(2, 'x', 'a', 'b', true, 20, 30), get(3, 'x', 'b', 40, 50)], 'a chain of successful cas');
  fail(t, [cas(1, 'x', '', 'a', true, 0, 10), cas(2, 'x', '', 'b', true, 5, 15)], 'two concurrent cas from the same value cannot both succeed');
  pass(t, [cas(1, 'x', '', 'a', true, 0, 10), cas(2, 'x', '', 'b', false, 5, 15), get(3, 'x', 'a', 20, 30)], 'one wins, the other fails');
  fail(t, [put(1, 'x', 'a', 0, 10), cas(2, 'x', 'a', 'b', false, 20, 30)], 'a cas cannot fail when the value matches');
  fail(t, [put(1, 'x', 'a', 0, 10), cas(2, 'x', 'z', 'b', true, 20, 30)], 'a cas cannot succeed when the value differs');
  pass(t, [put(1, 'x', 'a', 0, 10), cas(2, 'x', 'a', 'b', false, 5, 30), put(3, 'x', 'c', 15, 20)], 'a failed cas placed after a concurrent put');
  fail(t, [cas(1, 'x', '', 'a', true, 0, 10), get(2, 'x', '', 20, 30)], 'a successful cas is visible afterwards');
  pass(t, [cas(1, 'x', 'q', 'a', false, 0, 10), get(2, 'x', '', 20, 30)], 'a failed cas has no effect');
  pass(t, [get(0, 'x', '', 4, 9), cas(1, 'x', '', 'a', true, 4, 13), put(0, 'x', 'b', 12, 16), put(1, 'x', '', 13, 25), get(0, 'x', '', 16, 27)],
    'a put of the value already there may still be the write that restores it later');
});

t.test('operations whose outcome is unknown', async (t) => {
  pass(t, [put(1, 'x', 'a', 0, 10), put(2, 'x', 'b', 20, null), get(3, 'x', 'b', 30, 40)], 'an unknown put that took effect');
  pass(t, [put(1, 'x', 'a', 0, 10), put(2, 'x', 'b', 20, null), get(3, 'x', 'a', 30, 40)], 'an unknown put that never took effect');
  pass(t, [put(1, 'x', 'a', 0, 10), put(2, 'x', 'b', 20, null), get(3, 'x', 'a', 30, 40), get(3, 'x', 'b', 1000, 1010)],
    'an unknown put may take effect much later');
  fail(t, [put(1, 'x', 'a', 0, 10), put(2, 'x', 'b', 50, null), get(3, 'x', 'b', 30, 40)], 'an unknown put cannot take effect before its call');
  fail(t, [put(1, 'x', 'a', 0, 10), put(2, 'x', 'b', 20, null), get(3, 'x', 'b', 30, 40), get(3, 'x', 'a', 50, 60)],
    'an unknown put takes effect at most once: a is gone once b was read');
  pass(t, [put(1, 'x', 'a', 0, 10), put(2, 'x', 'b', 20, null), get(3, 'x', 'b', 30, 40), put(4, 'x', 'a', 45, 48), get(3, 'x', 'a', 50, 60)],
    'unless a is written again');
  pass(t, [put(1, 'x', 'a', 0, 10), get(2, 'x', 'zzz', 20, null), get(3, 'x', 'a', 30, 40)], 'a get with an unknown outcome constrains nothing');
  pass(t, [put(1, 'x', 'a', 0, 10), cas(2, 'x', 'a', 'b', null, 20, null), get(3, 'x', 'b', 30, 40)], 'an unknown cas that took effect');
  pass(t, [put(1, 'x', 'a', 0, 10), cas(2, 'x', 'a', 'b', null, 20, null), get(3, 'x', 'a', 30, 40)], 'an unknown cas that did not');
  fail(t, [put(1, 'x', 'a', 0, 10), cas(2, 'x', 'q', 'b', null, 20, null), get(3, 'x', 'b', 30, 40)], 'an unknown cas cannot succeed from the wrong value');
  pass(t, [put(1, 'x', 'a', 0, null), put(2, 'x', 'b', 5, null)], 'nothing but unknown outcomes');
});

t.test('keys are independent', async (t) => {
  pass(t, [put(1, 'x', 'a', 0, 10), put(2, 'y', 'b', 0, 10), get(3, 'x', 'a', 20, 30), get(3, 'y', 'b', 40, 50), get(4, 'z', undefined, 0, 60)],
    'each key on its own');
  const why = fail(t, [put(1, 'x', 'a', 0, 10), put(2, 'y', 'b', 0, 10), get(3, 'x', 'a', 20, 30), get(3, 'y', 'a', 40, 50)], 'one key read the other key\'s value');
  t.match(why, /^key "y"/, 'names the bad key');
});

t.test('equal times count as concurrent', async (t) => {
  pass(t, [put(1, 'x', 'a', 0, 10), get(2, 'x', undefined, 10, 20)], 'a read called as the write returns may precede it');
  fail(t, [put(1, 'x', 'a', 0, 10), get(2, 'x', undefined, 11, 20)], 'but not one called after');
});

t.test('a history too big to decide gives up instead of hanging', async (t) => {
  // 24 concurrent writes and then a read of a value none wrote: every subset of the writes is a distinct state.
  const writes = Array.from({ length: 24 }, (_, i) => put(i, 'x', `w${i}`, 0, 100));
  const h = [...writes, get(99, 'x', 'nope', 200, 210)];
  const r = checkKvLinearizable(h, { maxSteps: 20_000 });
  t.equal(r.ok, false, 'unknown is not a pass');
  t.equal(r.timedOut, true, 'reported as timed out, not as a violation');
  t.match(r.explanation, /^unknown: gave up after 20000 steps on key "x"/);
  const both = checkKvLinearizable([...h, put(1, 'y', 'a', 0, 10), get(2, 'y', 'b', 20, 30)], { maxSteps: 20_000 });
  t.equal(both.ok, false, 'a violation on another key still fails');
  t.match(both.explanation, /^key "y"/);
  // Without the read, the writes linearize at once.
  t.same(checkKvLinearizable(writes, { maxSteps: 1000 }), { ok: true });
});

t.test('bad input gets a clear error', async (t) => {
  t.throws(() => checkKvLinearizable([put(1, 'x', 'a', 10, 10)]), /operation 0: call \(10\) must be before ret \(10\)/);
  t.throws(() => checkKvLinearizable([put(1, 'x', 'a', 0, 10), put(1, 'x', 'a', 20, 5)]), /operation 1: call \(20\) must be before ret \(5\)/);
  t.throws(() => checkKvLinearizable([{ ...get(1, 'x', 'a', 0, 10), output: null }]), /operation 0: an operation that returned needs an output/);
  t.throws(() => checkKvLinearizable([{ ...put(1, 'x', 'a', 0, null), output: {} }]), /outcome unknown\) but an output is given/);
  t.throws(() => checkKvLinearizable([{ ...cas(1, 'x', 'a', 'b', true, 0, 10), output: {} }]), /needs output\.ok/);
  t.throws(() => checkKvLinearizable([{ ...put(1, 'x', 'a', Number.NaN, 10) }]), /call must be a finite number/);
  t.throws(() => checkKvLinearizable([{ client: 1, input: { kind: 'del', key: 'x' }, call: 0, ret: 1, output: {} } as unknown as Operation]), /unknown input kind "del"/);
  t.throws(() => checkKvLinearizable([], { maxSteps: 0 }), /maxSteps must be a positive integer/);
});

t.test('describe', async (t) => {
  t.equal(describe(cas(2, 'x', 'a', 'b', true, 10, 25)), 'c2 cas "a"→"b" ok [10,25]');
  t.equal(describe(put(1, 'x', 'a', 3, null)), 'c1 put "a" [3,?]');
  t.equal(describe(get(1, 'x', undefined, 3, 4)), 'c1 get → "" [3,4]');
});

t.test('prng: seeded, in range, replays', async (t) => {
  const a = prng(42);
  const b = prng(42);
  const xs = Array.from({ length: 1000 }, () => a.next());
  t.same(Array.from({ length: 1000 }, () => b.next()), xs, 'the same seed gives the same sequence');
  t.ok(xs.every((x) => x >= 0 && x < 1));
  t.not(prng(43).next(), prng(42).next(), 'another seed, another sequence');
  const r = prng(7);
  const counts = [0, 0, 0];
  for (let i = 0; i < 3000; i++) counts[r.int(3)]! += 1;
  t.ok(counts.every((c) => c > 800), `int(3) covers 0..2 evenly enough: ${counts.join(',')}`);
  t.equal(r.pick(['only']), 'only');
  t.notOk(r.chance(0));
  t.ok(r.chance(1));
  t.throws(() => r.int(0), /positive integer/);
  t.throws(() => r.pick([]), /empty list/);
});

/** Brute force over whole histories (all keys together): every order consistent with real time, unknown outcomes optional. */
function bruteForce(h: readonly Operation[]): boolean {
  const n = h.length;
  const placed = new Array<boolean>(n).fill(false);
  const required = h.filter((op) => op.ret !== null).length;
  const mustPrecede = (a: Operation, b: Operation): boolean => a.ret !== null && a.ret < b.call;
  const search = (kv: ReadonlyMap<string, string>, done: number): boolean => {
    if (done === required) return true;
    for (let i = 0; i < n; i++) {
      const b = h[i] as Operation;
      if (placed[i] || h.some((a, j) => !placed[j] && mustPrecede(a, b))) continue;
      const cur = kv.get(b.input.key) ?? '';
      let next: Map<string, string> | null = new Map(kv);
      if (b.input.kind === 'put') next.set(b.input.key, b.input.value);
      else if (b.input.kind === 'get') { if (b.output !== null && (b.output.value ?? '') !== cur) next = null; }
      else if (b.output === null) { if (cur === b.input.from) next.set(b.input.key, b.input.to); }
      else if (b.output.ok !== (cur === b.input.from)) next = null;
      else if (b.output.ok) next.set(b.input.key, b.input.to);
      if (next === null) continue;
      placed[i] = true;
      const found = search(next, done + (b.ret !== null ? 1 : 0));
      placed[i] = false;
      if (found) return true;
    }
    return false;
  };
  return search(new Map(), 0);
}

/** A copy of `h` with read `i` returning `value`. */
const corrupt = (h: readonly Operation[], i: number, value: string): Operation[] =>
  h.map((op, j) => (j === i ? { ...op, output: { value } } : op));
const completedReads = (h: readonly Operation[]): number[] =>
  h.flatMap((op, i) => (op.input.kind === 'get' && op.ret !== null ? [i] : []));

t.test('random histories from a real register pass; with one read of a never-written value they fail', async (t) => {
  let checked = 0;
  for (let seed = 1; seed <= 200; seed++) {
    const rng: Prng = prng(seed);
    const h = randomKvHistory(rng, { clients: 2 + rng.int(5), opsPerClient: 5 + rng.int(40), keys: 1 + rng.int(3), unknownRate: 0.08 });
    const r = checkKvLinearizable(h);
    if (!r.ok || r.timedOut) { t.fail(`seed ${seed}: ${r.explanation ?? 'timed out'}`); continue; }
    const reads = completedReads(h);
    if (reads.length === 0) continue;
    const bad = checkKvLinearizable(corrupt(h, rng.pick(reads), 'never-written'));
    if (bad.ok) t.fail(`seed ${seed}: the corrupted history passed`);
    checked++;
  }
  t.ok(checked > 150, `${checked} corrupted histories all failed`);
});

t.test('small random histories, some corrupted with a value that was written: the same verdict as brute force', async (t) => {
  let yes = 0;
  let no = 0;
  for (let seed = 1000; seed < 1600; seed++) {
    const rng = prng(seed);
    const h0 = randomKvHistory(rng, { clients: 2 + rng.int(3), opsPerClient: 1 + rng.int(3), keys: 1 + rng.int(2), unknownRate: 0.2, gap: 3, duration: 6 });
    const reads = completedReads(h0);
    const written = ['', 'x', ...h0.flatMap((op) => (op.input.kind === 'put' ? [op.input.value] : op.input.kind === 'cas' ? [op.input.to] : []))];
    const h = reads.length > 0 && rng.chance(0.7) ? corrupt(h0, rng.pick(reads), rng.pick(written)) : h0;
    const expected = bruteForce(h);
    const r = checkKvLinearizable(h);
    if (r.ok !== expected || r.timedOut) t.fail(`seed ${seed}: checker says ${r.ok}, brute force ${expected}`, { history: h.map(describe) });
    if (expected) yes++; else no++;
  }
  t.ok(yes > 100 && no > 100, `both verdicts exercised: ${yes} linearizable, ${no} not`);
});

t.test('a large random history checks quickly', async (t) => {
  const rng = prng(99);
  const h = randomKvHistory(rng, { clients: 10, opsPerClient: 200, keys: 5, unknownRate: 0.02 });
  t.same(checkKvLinearizable(h), { ok: true }, `${h.length} operations`);
  const bad = checkKvLinearizable(corrupt(h, rng.pick(completedReads(h)), 'never-written'));
  t.equal(bad.ok, false);
  t.notOk(bad.timedOut);
});
