// The file system calls the log makes, as one interface: node's fs/promises in
// production, a simulated disk with byte-level faults in the simulation
// (test/sim/sim-fs.ts), so the code that writes and recovers is the code tested.

import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';

export interface StorageFile {
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  writeFile(data: Uint8Array): Promise<void>;
  truncate(length: number): Promise<void>;
  sync(): Promise<void>;
  datasync(): Promise<void>;
  close(): Promise<void>;
}

export interface StorageFs {
  mkdir(path: string, options: { recursive: true; mode: number }): Promise<unknown>;
  readdir(path: string): Promise<string[]>;
  readFile(path: string): Promise<Buffer>;
  rm(path: string, options: { force: true }): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** flags as fs.open takes them: 'r', 'r+', 'w', 'w+', or numeric O_* flags. */
  open(path: string, flags: string | number, mode?: number): Promise<StorageFile>;
}

export const nodeFs: StorageFs = {
  mkdir: (path, options) => mkdir(path, options),
  readdir: (path) => readdir(path),
  readFile: (path) => readFile(path),
  rm: (path, options) => rm(path, options),
  rename: (from, to) => rename(from, to),
  open: (path, flags, mode) => open(path, flags, mode),
};
