// One server per data directory: a LOCK file holding the owner's pid. A lock
// left by a process that no longer exists (kill -9) is taken over.

import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { processAlive } from '../common/process-alive.js';

export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  // Only this user: the directory holds the jobs (commands, their env and secrets).
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, 'LOCK');
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(String(process.pid));
      await fh.close();
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (owner > 0 && owner !== process.pid && processAlive(owner)) {
        throw new Error(`data directory ${dir} is in use by process ${owner}; stop it or use another --data-dir`);
      }
      await rm(path, { force: true });
    }
  }
  throw new Error(`cannot lock data directory ${dir}`);
}

/** A warning when others may read or enter the data directory (null when only its owner can). */
export async function dataDirExposure(dir: string): Promise<string | null> {
  const mode = (await stat(dir)).mode & 0o777;
  if ((mode & 0o077) === 0) return null;
  return `the data directory ${dir} is open to other users (mode ${mode.toString(8).padStart(4, '0')}): it holds the jobs and their secrets; run chmod 700 ${dir}`;
}
