import t from 'tap';
import { TimerHeap } from '../../../server/dispatch/timer-heap.js';
import { OutputTail } from '../../../server/dispatch/output-tail.js';

t.test('pops due keys earliest first; rescheduling replaces', async (t) => {
  const h = new TimerHeap();
  h.set('c', 30);
  h.set('a', 10);
  h.set('b', 20);
  h.set('a', 25);
  t.equal(h.peek(), 20);
  t.same(h.popDue(25), [{ key: 'b', at: 20 }, { key: 'a', at: 25 }]);
  t.equal(h.size, 1);
  h.delete('c');
  t.equal(h.peek(), null);
  t.same(h.popDue(100), []);
});

t.test('a heap of many keys stays ordered under churn', async (t) => {
  const h = new TimerHeap();
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const want = new Map<string, number>();
  for (let i = 0; i < 5000; i++) {
    const key = `k${Math.floor(rand() * 500)}`;
    const at = Math.floor(rand() * 10_000);
    h.set(key, at);
    want.set(key, at);
  }
  const got = h.popDue(Infinity);
  t.equal(got.length, want.size);
  t.ok(got.every((x, i) => i === 0 || got[i - 1]!.at <= x.at), 'ascending');
  t.ok(got.every((x) => want.get(x.key) === x.at), 'latest schedule of each key');
});

t.test('output tail keeps the last bytes and says when it cut', async (t) => {
  const tail = new OutputTail(10);
  tail.write(Buffer.from('hello '));
  t.equal(tail.text(), 'hello ');
  t.equal(tail.truncated, false);
  tail.write(Buffer.from('world!'));
  t.equal(tail.text(), 'llo world!');
  t.equal(tail.truncated, true);
  tail.write(Buffer.from('0123456789ABC'));
  t.equal(tail.text(), '3456789ABC');
  t.equal(tail.byteLength, 10);
  const exact = new OutputTail(3);
  exact.write(Buffer.from('abc'));
  t.equal(exact.truncated, false, 'exactly the limit is not a cut');
});
