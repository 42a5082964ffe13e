// The one way to change replicated state: submit a command; it resolves
// once the command is durable, committed and applied, with apply()'s result.

import type { Command } from './commands.js';
import type { ApplyResult } from './state-machine.js';

export interface CommandLog {
  submit(command: Command): Promise<ApplyResult>;
}
