// Write a small file so that a crash leaves either the old or the new
// content: temp file, fsync, rename over, fsync the directory.

import { dirname } from 'node:path';
import { nodeFs, type StorageFs } from './storage-fs.js';

/** `step` (a test hook) is called once the temp file is durable and again once it is renamed. */
export async function writeAtomic(path: string, data: Uint8Array, step?: (what: 'temp-synced' | 'renamed') => void, fs: StorageFs = nodeFs): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await fs.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  step?.('temp-synced');
  await fs.rename(tmp, path);
  step?.('renamed');
  await syncDir(dirname(path), fs);
}

export async function syncDir(dir: string, fs: StorageFs = nodeFs): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
