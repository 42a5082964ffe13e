import t from 'tap';
import { maxTimerDelayMs, setLongTimeout } from '../../common/long-timeout.js';

/** Resolves after a short plain timer: anything due at once has had its turn by then. */
const aWhile = () => new Promise<void>((resolve) => setTimeout(resolve, 30));

t.test('delays at and past 2^31-1 ms do not fire at once', async (t) => {
  const fired: number[] = [];
  const timers = [maxTimerDelayMs, maxTimerDelayMs + 1, 2 ** 32, 600 * 3600_000, Number.POSITIVE_INFINITY]
    .map((ms) => setLongTimeout(() => fired.push(ms), ms));
  await aWhile();
  t.same(fired, [], 'none fired');
  for (const timer of timers) timer.clear();
});

t.test('short delays fire, and clear cancels', async (t) => {
  let fired = 0;
  await new Promise<void>((resolve) => setLongTimeout(() => { fired++; resolve(); }, 1));
  t.equal(fired, 1);
  let cancelled = 0;
  setLongTimeout(() => cancelled++, 5).clear();
  setLongTimeout(() => cancelled++, Number.NaN).clear();
  await aWhile();
  t.equal(cancelled, 0);
});
