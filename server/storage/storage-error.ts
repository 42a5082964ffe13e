// Storage's typed errors. They stop at the storage boundary: callers see a
// stable code and a message that names the file, never a raw errno.

export class StorageError extends Error {
  override readonly name = 'StorageError';
  constructor(
    readonly code: 'CT_STORAGE_CORRUPT' | 'CT_STORAGE_IO' | 'CT_STORAGE_MISUSE',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function corrupt(file: string, offset: number, what: string): StorageError {
  return new StorageError(
    'CT_STORAGE_CORRUPT',
    `${file} is damaged at byte ${offset} (${what}); the server will not start on damaged data. Restore the data directory from a backup, or move this file away if you accept losing what it holds`,
  );
}

export function io(what: string, cause: unknown): StorageError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new StorageError('CT_STORAGE_IO', `${what}: ${reason}`, { cause });
}
