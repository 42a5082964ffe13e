// Reading the process tree from /proc, for benches that measure plugin
// programs and the commands they run.

import { readdirSync, readFileSync } from 'node:fs';

/** Direct children of a process (every thread's list); [] once it is gone. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      out.push(...readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
    }
  } catch {
    // gone
  }
  return out;
}
