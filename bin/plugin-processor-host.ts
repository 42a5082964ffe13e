// A processor host for processor plugin programs: each name runs its program
// (started on first use, restarted if it dies) through PluginProcessor.
// Plugin-directory discovery builds the name -> program map; `alongside`
// adds in-process processors (e.g. builtinProcessors()), which a program of
// the same name replaces.

import type { PluginOptions } from '../plugins/sdk/plugin-process.js';
import { PluginProcessor } from '../plugins/sdk/plugin-processor.js';
import type { Processor } from '../plugins/sdk/processor.js';
import { ProcessorRegistry } from '../plugins/sdk/processor-registry.js';
import { InProcessProcessorHost } from './in-process-processor-host.js';

export interface PluginProcessorHostOptions extends PluginOptions {
  readonly alongside?: readonly Processor[];
}

export class PluginProcessorHost extends InProcessProcessorHost {
  constructor(programs: ReadonlyMap<string, string> | Readonly<Record<string, string>>, options: PluginProcessorHostOptions = {}) {
    const entries = programs instanceof Map ? [...programs.entries()] : Object.entries(programs);
    const { alongside = [], ...pluginOptions } = options;
    super(new ProcessorRegistry([...alongside, ...entries.map(([name, program]) => new PluginProcessor(name, program, pluginOptions))]));
  }
}
