// A timeout for any delay a user may set. Node fires a delay above 2^31-1 ms
// (24.8 days) after 1 ms; this chains timers of at most that length instead.

export const maxTimerDelayMs = 2 ** 31 - 1;

export interface LongTimeout {
  clear(): void;
}

/** Call `fn` once after `ms` milliseconds (Infinity: never); `clear()` cancels it. */
export function setLongTimeout(fn: () => void, ms: number): LongTimeout {
  let remaining = Number.isNaN(ms) ? 0 : Math.max(0, ms);
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    const step = Math.min(remaining, maxTimerDelayMs);
    remaining -= step;
    timer = setTimeout(() => (remaining > 0 ? arm() : fn()), step);
  };
  arm();
  return {
    clear() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      remaining = 0;
    },
  };
}
