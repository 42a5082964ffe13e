// Write a small file so that a crash leaves either the old or the new
// content: temp file, fsync, rename over, fsync the directory.

import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** `step` (a test hook) is called once the temp file is durable and again once it is renamed. */
export async function writeAtomic(path: string, data: Uint8Array, step?: (what: 'temp-synced' | 'renamed') => void): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  step?.('temp-synced');
  await rename(tmp, path);
  step?.('renamed');
  await syncDir(dirname(path));
}

export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
