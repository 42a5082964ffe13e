// Batcher: what is pushed in one turn goes out together once the turn is
// done (the deferred flush is driven by hand here), bounded by bytes and
// items; an item past the byte bound goes alone; order is kept.
import t from 'tap';
import { Batcher } from '../../common/batcher.js';

function harness(maxBytes: number, maxItems: number) {
  const sent: string[][] = [];
  let deferred: (() => void)[] = [];
  const b = new Batcher<string>({ maxBytes, maxItems, send: (items) => sent.push(items), defer: (fn) => { deferred.push(fn); } });
  const turn = () => {
    const fns = deferred;
    deferred = [];
    for (const fn of fns) fn();
  };
  return { b, sent, turn, pendingTurns: () => deferred.length };
}

t.test('one turn, one batch; nothing goes before the turn ends; a lone item waits one turn, no more', async (t) => {
  const { b, sent, turn, pendingTurns } = harness(1000, 100);
  for (const x of ['a', 'b', 'c']) b.push(x, 10);
  t.same(sent, [], 'not sent while the turn runs');
  t.equal(pendingTurns(), 1, 'one deferred flush for the turn');
  turn();
  t.same(sent, [['a', 'b', 'c']]);
  b.push('d', 10);
  turn();
  t.same(sent, [['a', 'b', 'c'], ['d']], 'a lone item goes in the next turn');
  turn();
  t.equal(sent.length, 2, 'an empty turn sends nothing');
});

t.test('bounds: the item count and the bytes; an item bigger than the bound goes alone; order kept', async (t) => {
  const { b, sent, turn } = harness(100, 3);
  for (const x of ['1', '2', '3', '4']) b.push(x, 1);
  t.same(sent, [['1', '2', '3']], 'full at 3 items: sent at once');
  b.push('big', 500);
  t.same(sent, [['1', '2', '3'], ['4'], ['big']], 'what waited goes first, then the big one alone');
  b.push('x', 60);
  b.push('y', 60);
  t.same(sent.at(-1), ['x'], 'y would pass 100 bytes: x goes, y starts the next batch');
  turn();
  t.same(sent.at(-1), ['y']);
  t.same(sent.flat(), ['1', '2', '3', '4', 'big', 'x', 'y'], 'in push order');
});

t.test('flush sends now; clear drops', async (t) => {
  const { b, sent, turn } = harness(100, 10);
  b.push('a', 1);
  b.flush();
  t.same(sent, [['a']]);
  b.push('b', 1);
  b.clear();
  turn();
  t.same(sent, [['a']], 'cleared items are gone');
  t.equal(b.size, 0);
});

t.test('the default defer is setImmediate: microtasks of the turn are included', async (t) => {
  const sent: number[][] = [];
  const b = new Batcher<number>({ maxBytes: 1000, maxItems: 1000, send: (items) => sent.push(items) });
  b.push(1, 1);
  await Promise.resolve();
  b.push(2, 1);
  queueMicrotask(() => b.push(3, 1));
  await new Promise<void>((resolve) => setImmediate(resolve));
  await new Promise<void>((resolve) => setImmediate(resolve));
  t.same(sent, [[1, 2, 3]]);
});
