// What execvp would find for a command name, checked before a command is
// started through a wrapper (which would otherwise report "not found" as
// exit status 127 instead of a clear error).

import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

export type ExecutableProblem = 'ENOENT' | 'EACCES' | null;

function check(path: string): ExecutableProblem {
  try {
    if (!statSync(path).isFile()) return 'EACCES';
  } catch {
    return 'ENOENT';
  }
  try {
    accessSync(path, constants.X_OK);
    return null;
  } catch {
    return 'EACCES';
  }
}

/** Why `file` could not be executed with this PATH and working directory, or null if it can. */
export function executableProblem(file: string, pathEnv: string | undefined, cwd: string): ExecutableProblem {
  if (file.includes('/')) return check(isAbsolute(file) ? file : resolve(cwd, file));
  let sawDenied = false;
  for (const dir of (pathEnv ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    const problem = check(join(resolve(cwd, dir === '' ? '.' : dir), file));
    if (problem === null) return null;
    if (problem === 'EACCES') sawDenied = true;
  }
  return sawDenied ? 'EACCES' : 'ENOENT';
}
