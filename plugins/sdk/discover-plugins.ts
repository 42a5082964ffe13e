// Finds plugin programs by file name in plugin directories:
// `clocktower-executor-NAME` and `clocktower-processor-NAME`, executable
// regular files or symlinks to them. NAME is everything after the prefix
// (`clocktower-executor-my-thing` is `my-thing`). When two directories hold
// the same name, the first directory wins. A directory that does not exist
// is fine (the defaults name places that often do not); everything else
// that is passed over is in `skipped`, with the reason, for the caller to log.

import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface SkippedPlugin {
  readonly path: string;
  readonly reason: string;
}

export interface DiscoveredPlugins {
  /** Executor name -> absolute program path. */
  readonly executors: Map<string, string>;
  /** Processor name -> absolute program path. */
  readonly processors: Map<string, string>;
  /** Matching files (or unreadable directories) passed over, and why. */
  readonly skipped: SkippedPlugin[];
  /** Directories searched that do not exist. */
  readonly missingDirs: string[];
}

const pattern = /^clocktower-(executor|processor)-(.+)$/;

export function discoverPlugins(dirs: readonly string[]): DiscoveredPlugins {
  const found: DiscoveredPlugins = { executors: new Map(), processors: new Map(), skipped: [], missingDirs: [] };
  for (const dir of dirs) {
    const abs = resolve(dir);
    let entries: string[];
    try {
      entries = readdirSync(abs).sort();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') found.missingDirs.push(abs);
      else found.skipped.push({ path: abs, reason: code === 'ENOTDIR' ? 'not a directory' : `cannot read the directory: ${(err as Error).message}` });
      continue;
    }
    for (const entry of entries) {
      const m = pattern.exec(entry);
      if (!m) continue;
      const kind = m[1] === 'executor' ? found.executors : found.processors;
      const name = m[2] ?? '';
      const path = join(abs, entry);
      const earlier = kind.get(name);
      if (earlier !== undefined) {
        found.skipped.push({ path, reason: `${m[1]} ${name} is already provided by ${earlier} (the first plugin directory wins)` });
        continue;
      }
      const problem = unusable(path);
      if (problem) found.skipped.push({ path, reason: problem });
      else kind.set(name, path);
    }
  }
  return found;
}

/** Why the file cannot be run as a plugin, or null when it can. */
function unusable(path: string): string | null {
  let stat;
  try {
    stat = statSync(path);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'a symlink to nothing (its target does not exist)' : `cannot inspect it: ${(err as Error).message}`;
  }
  if (!stat.isFile()) return 'not a regular file';
  try {
    accessSync(path, constants.X_OK);
  } catch {
    return 'not executable (chmod +x it)';
  }
  return null;
}
