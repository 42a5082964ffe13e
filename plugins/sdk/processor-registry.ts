// Processors by name, for a host that runs them in-process (built-ins) or
// through PluginProcessor (plugin programs).

import type { ExecutionRecord, Processor } from './processor.js';

export class ProcessorRegistry {
  private readonly byName = new Map<string, Processor>();

  /** A later processor of the same name replaces an earlier one. */
  constructor(processors: readonly Processor[]) {
    for (const p of processors) this.byName.set(p.name, p);
  }

  get(name: string): Processor | undefined {
    return this.byName.get(name);
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  /** Rejects for an unknown name, saying which processors there are. */
  process(name: string, execution: ExecutionRecord, config: Readonly<Record<string, string>>, signal: AbortSignal): Promise<ExecutionRecord> {
    const processor = this.byName.get(name);
    if (!processor) return Promise.reject(new Error(this.unknown(name)));
    return processor.process(execution, config, signal);
  }

  /** A config problem (an unknown name included) as an error message, or null. */
  validate(name: string, config: Readonly<Record<string, string>>): string | null {
    const processor = this.byName.get(name);
    if (!processor) return this.unknown(name);
    return processor.validate?.(config) ?? null;
  }

  private unknown(name: string): string {
    const names = this.names();
    return `unknown processor "${name}" (available: ${names.length > 0 ? names.join(', ') : 'none'})`;
  }

  async close(): Promise<void> {
    await Promise.all([...this.byName.values()].map((p) => p.close?.()));
  }
}
