// Executors by name. An unknown name is a failed result that says which
// executors there are, never an exception.

import { ExecErrorCode, failure, type ExecuteRequest, type ExecuteResult, type Executor, type OutputSink } from './executor.js';

export class ExecutorRegistry {
  private readonly byName = new Map<string, Executor>();

  constructor(executors: readonly Executor[]) {
    for (const e of executors) this.byName.set(e.name, e);
  }

  get(name: string): Executor | undefined {
    return this.byName.get(name);
  }

  /**
   * The executor_config keys executor `name` declares secret: [] for one
   * that declares none or that this node does not have; null while a plugin
   * program has not told yet.
   */
  secretKeys(name: string): readonly string[] | null {
    const e = this.byName.get(name);
    return e?.secretKeys === undefined ? [] : e.secretKeys;
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  async execute(name: string, request: ExecuteRequest, output: OutputSink, signal: AbortSignal): Promise<ExecuteResult> {
    const executor = this.byName.get(name);
    if (!executor) {
      return failure(name === ''
        ? `no executor defined: set the job's "executor" (available: ${this.names().join(', ')})`
        : `unknown executor "${name}": the executor is not present on this node (available: ${this.names().join(', ')})`, -1, ExecErrorCode.UnknownExecutor);
    }
    try {
      return await executor.execute(request, output, signal);
    } catch (err) {
      return failure(`executor ${name} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.byName.values()].map((e) => e.close?.()));
  }
}
