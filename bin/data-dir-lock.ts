// One server per data directory: a LOCK file holding the owner's pid. A lock
// left by a process that no longer exists (kill -9) is taken over.

import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { processAlive } from '../common/process-alive.js';

export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'LOCK');
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fh = await open(path, 'wx');
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

