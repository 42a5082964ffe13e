// Finds plugin programs by file name in plugin directories:
// `clocktower-executor-NAME` and `clocktower-processor-NAME`, executable
// regular files or symlinks to them. NAME is everything after the prefix
// (`clocktower-executor-my-thing` is `my-thing`). When two directories hold
// the same name, the first directory wins. A directory that does not exist
// is fine (the defaults name places that often do not); everything else
// that is passed over is in `skipped`, with the reason, for the caller to log.
//
// A plugin runs as the node, so whoever can write a plugin directory or a
// program can run code as the node: a directory or a program (the file a
// symlink leads to, and the directory holding it) that group or others may
// write, or that belongs to another user than root or the node's own, is
// refused, with the path and the fix.

import { accessSync, constants, readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export interface SkippedPlugin {
  readonly path: string;
  readonly reason: string;
  /** Refused because others could change it (not merely unusable). */
  readonly refused?: true;
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

/** Who may own plugin directories and programs: root and the node's own user (`uid`; default: this process's). */
export interface PluginOwners {
  readonly uid: number | null;
}

export function discoverPlugins(dirs: readonly string[], owners: PluginOwners = { uid: process.getuid?.() ?? null }): DiscoveredPlugins {
  const found: DiscoveredPlugins = { executors: new Map(), processors: new Map(), skipped: [], missingDirs: [] };
  for (const dir of dirs) {
    const abs = resolve(dir);
    const unsafeDir = unsafe(abs, 'directory', owners, false);
    if (unsafeDir) {
      found.skipped.push({ path: abs, reason: `${unsafeDir}; none of its plugins are loaded`, refused: true });
      continue;
    }
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
      if (problem) {
        found.skipped.push({ path, reason: problem });
        continue;
      }
      const unsafeProgram = unsafeTarget(path, abs, owners);
      if (unsafeProgram) found.skipped.push({ path, reason: unsafeProgram, refused: true });
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

/**
 * Why others could change what runs as `path` (the file itself, or through
 * a symlink the file it leads to and the directory holding that), or null.
 */
function unsafeTarget(path: string, pluginDir: string, owners: PluginOwners): string | null {
  let real: string;
  try {
    real = realpathSync(path);
  } catch (err) {
    return `cannot resolve it: ${(err as Error).message}`;
  }
  const program = unsafe(real, 'program', owners, false);
  if (program) return real === path ? program : `it leads to ${real}: ${program}`;
  const holder = dirname(real);
  if (holder === pluginDir) return null;
  // Others may add files to a sticky directory (/tmp), but not replace this one.
  const dir = unsafe(holder, 'directory', owners, true);
  return dir ? `it leads to ${real}, in ${dir}` : null;
}

/** Why `path` is not safe to run from (writable by group or others, or owned by another user), or null. */
function unsafe(path: string, what: 'directory' | 'program', owners: PluginOwners, stickyOk: boolean): string | null {
  let stat: Stats;
  try {
    stat = statSync(path);
  } catch {
    return null; // a missing directory or file is reported on its own
  }
  if ((stat.mode & 0o022) !== 0 && !(stickyOk && (stat.mode & 0o1000) !== 0)) {
    const mode = (stat.mode & 0o7777).toString(8).padStart(4, '0');
    return `the ${what} ${path} is writable by ${(stat.mode & 0o002) !== 0 ? 'anyone' : 'its group'} (mode ${mode}), ` +
      `so they could run code as this node: make it writable by its owner only (chmod go-w ${path})`;
  }
  if (owners.uid !== null && stat.uid !== 0 && stat.uid !== owners.uid) {
    return `the ${what} ${path} belongs to uid ${stat.uid}, not to root or to this node's user (uid ${owners.uid}), ` +
      `so that user could run code as this node: chown it to root or uid ${owners.uid} (chown ${owners.uid} ${path})`;
  }
  return null;
}
