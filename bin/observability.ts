// What a server or agent process is given to report with: the operator log
// (the logger, and a line function for the parts that log plain lines).
// Each process makes its own metrics registry (server/observe/metrics.ts).

import type { LogFields, Logger } from '../server/observe/logger.js';

export interface Observability {
  readonly logger: Logger;
  readonly log: (line: string, fields?: LogFields) => void;
}
