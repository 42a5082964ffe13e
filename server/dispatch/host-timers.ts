// The timers of the agent host (lost deadlines, the sweep of silent agents):
// injected, so a test or the simulation runs them on its own time; Node's
// by default.

import { maxTimerDelayMs, setLongTimeout } from '../../common/long-timeout.js';

/** Cancels what it was returned for; calling it again does nothing. */
export type Cancel = () => void;

export interface HostTimers {
  /** Call `fn` once after `ms` milliseconds (any length, also past Node's 2^31-1 ms); returns the cancel. */
  after(ms: number, fn: () => void): Cancel;
  /** Call `fn` every `ms` milliseconds, in the background (it keeps no process alive); returns the cancel. */
  every(ms: number, fn: () => void): Cancel;
}

export const realHostTimers: HostTimers = {
  after(ms, fn) {
    if (ms > maxTimerDelayMs || Number.isNaN(ms)) {
      const t = setLongTimeout(fn, ms);
      return () => t.clear();
    }
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return () => clearInterval(t);
  },
};
