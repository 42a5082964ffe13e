// Light mode's executor host: runs the built-in executors inside the server
// process, through the same interface plugins implement.

import type { ExecutorHost, OutputSink, RunOutcome, RunRequest } from '../server/dispatch/executor-host.js';
import type { ExecutorRegistry } from '../plugins/sdk/executor-registry.js';

export class InProcessExecutorHost implements ExecutorHost {
  constructor(private readonly registry: ExecutorRegistry) {}

  execute(executor: string, request: RunRequest, output: OutputSink, signal: AbortSignal): Promise<RunOutcome> {
    return this.registry.execute(executor, request, output, signal);
  }

  validate(executor: string, config: Readonly<Record<string, string>>): string | null | Promise<string | null> {
    return this.registry.get(executor)?.validate?.(config) ?? null;
  }

  executors(): string[] {
    return this.registry.names();
  }

  close(): Promise<void> {
    return this.registry.close();
  }
}
