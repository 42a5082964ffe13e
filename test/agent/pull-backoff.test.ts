// The pull agent's idle and error backoff: linear from the minimum to the maximum.
import t from 'tap';
import { nextBackoff } from '../../agent/pull-client.js';

t.test('linear steps, capped at the maximum', async (t) => {
  const b = { minMs: 1, maxMs: 1000, stepMs: 10 };
  const seen: number[] = [];
  let at = b.minMs;
  for (let i = 0; i < 102; i++) {
    seen.push(at);
    at = nextBackoff(at, b);
  }
  t.same(seen.slice(0, 4), [1, 11, 21, 31]);
  t.equal(seen[100], 1000, 'the maximum after 100 steps');
  t.equal(seen[101], 1000, 'and no further');
  t.equal(nextBackoff(0, { minMs: 0, maxMs: 5, stepMs: 0 }), 0, 'a zero step stays at the minimum');
});
