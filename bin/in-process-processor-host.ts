// The leader's processor host over a ProcessorRegistry: light mode (and a
// server) runs the built-in processors in-process through it, and
// PluginProcessorHost puts plugin programs in the same registry.

import type { ProcessedExecution, ProcessorHost } from '../server/dispatch/processor-host.js';
import type { Processor } from '../plugins/sdk/processor.js';
import { ProcessorRegistry } from '../plugins/sdk/processor-registry.js';
import { FilesProcessor } from '../plugins/processors/files/files-processor.js';
import { FluentProcessor } from '../plugins/processors/fluent/fluent-processor.js';
import { LogProcessor } from '../plugins/processors/log/log-processor.js';
import { SyslogProcessor } from '../plugins/processors/syslog/syslog-processor.js';

export function builtinProcessors(): Processor[] {
  return [new LogProcessor(), new FilesProcessor(), new SyslogProcessor(), new FluentProcessor()];
}

export class InProcessProcessorHost implements ProcessorHost {
  constructor(private readonly registry: ProcessorRegistry = new ProcessorRegistry(builtinProcessors())) {}

  async process(processor: string, execution: ProcessedExecution, config: Readonly<Record<string, string>>, signal: AbortSignal): Promise<ProcessedExecution> {
    const out = await this.registry.process(processor, { ...execution, output: Buffer.from(execution.output, 'utf8') }, config, signal);
    // Only the output is the processor's to change.
    return { ...execution, output: Buffer.from(out.output).toString('utf8') };
  }

  validate(processor: string, config: Readonly<Record<string, string>>): string | null {
    return this.registry.validate(processor, config);
  }

  processors(): string[] {
    return this.registry.names();
  }

  close(): Promise<void> {
    return this.registry.close();
  }
}
