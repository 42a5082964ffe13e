// The files processor (Dkron's `files`): writes each execution's output to
// <log_dir>/<job>-<execution id>.log (mode 0644), creating log_dir if
// missing. Config: `log_dir` (an absolute path, default /var/log/clocktower),
// `forward` ("true" keeps the output in the execution record; otherwise it
// is replaced by the file's path).

import { mkdir, writeFile } from 'node:fs/promises';
import { basename, isAbsolute, join } from 'node:path';
import { forwardedOr, unknownKey, type ExecutionRecord, type Processor } from '../../sdk/processor.js';

export const defaultLogDir = '/var/log/clocktower';

export class FilesProcessor implements Processor {
  readonly name = 'files';

  validate(config: Readonly<Record<string, string>>): string | null {
    const dir = config['log_dir'];
    if (dir !== undefined && !isAbsolute(dir)) return `processor files: log_dir must be an absolute path, got ${JSON.stringify(dir)}`;
    return unknownKey(this.name, config, ['log_dir', 'forward']);
  }

  async process(execution: ExecutionRecord, config: Readonly<Record<string, string>>, signal: AbortSignal): Promise<ExecutionRecord> {
    const problem = this.validate(config);
    if (problem) throw new Error(problem);
    const dir = config['log_dir'] ?? defaultLogDir;
    const file = `${execution.jobName}-${execution.id}.log`;
    // Saved job names cannot hold a path, but a plugin may be called by anyone.
    if (basename(file) !== file || file.startsWith('.')) throw new Error(`refusing to write ${JSON.stringify(file)}: not a plain file name`);
    const path = join(dir, file);
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(path, execution.output, { mode: 0o644, signal });
    } catch (err) {
      throw new Error(`cannot write ${path}: ${(err as Error).message}`, { cause: err });
    }
    return forwardedOr(execution, config, path);
  }
}
