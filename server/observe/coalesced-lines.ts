// Log lines written together: the lines of one event-loop turn go to the
// destination in one write (a pipe or a file takes a system call per write,
// and a burst logs two lines per execution). Nothing waits on a timer: the
// lines are out once what runs now is done, at most `maxBytes` wait, and
// `flush()` writes what waits at once (call it when the process exits).

import { Batcher } from '../../common/batcher.js';

export interface CoalescedLines {
  /** Queue one whole line (ending in "\n"). */
  write(line: string): void;
  /** Write what waits, now. */
  flush(): void;
}

export function coalescedLines(write: (text: string) => void, maxBytes = 64 * 1024): CoalescedLines {
  const batcher = new Batcher<string>({
    send: (lines) => write(lines.length === 1 ? (lines[0] as string) : lines.join('')),
    maxBytes,
    maxItems: Number.MAX_SAFE_INTEGER,
  });
  return {
    write: (line) => batcher.push(line, line.length),
    flush: () => batcher.flush(),
  };
}
