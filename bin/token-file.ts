// --api-token-file: the API token read from a file, so it stays off the
// command line (which every user of the machine can read in /proc/PID/cmdline)
// and out of the environment.

import { readFileSync } from 'node:fs';

/** The token in `path`: its content without surrounding whitespace (a trailing newline). Throws a clear error for a missing or empty file. */
export function readTokenFile(path: string, flag = '--api-token-file'): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${flag} ${path}: cannot read it: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const token = text.trim();
  if (token === '') throw new Error(`${flag} ${path}: the file is empty; it must hold the API token`);
  if (/[\r\n]/.test(token)) throw new Error(`${flag} ${path}: the file must hold the token on one line`);
  return token;
}
