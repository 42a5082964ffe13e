// The log processor (Dkron's `log`): prints each execution's output between
// BEGIN / END lines — on stdout for a success, on stderr for a failure — of
// the process it runs in (the server in light mode, the plugin program
// otherwise, whose lines the host copies into its own log).
// Config: `forward` ("true" keeps the output in the execution record;
// otherwise it is replaced by "Output in clocktower log").

import { forwardedOr, unknownKey, type ExecutionRecord, type Processor } from '../../sdk/processor.js';

export interface LogStreams {
  out(text: string): void;
  err(text: string): void;
}

const toProcess: LogStreams = {
  out: (text) => { process.stdout.write(text); },
  err: (text) => { process.stderr.write(text); },
};

export class LogProcessor implements Processor {
  readonly name = 'log';

  constructor(private readonly streams: LogStreams = toProcess) {}

  validate(config: Readonly<Record<string, string>>): string | null {
    return unknownKey(this.name, config, ['forward']);
  }

  process(execution: ExecutionRecord, config: Readonly<Record<string, string>>): Promise<ExecutionRecord> {
    const output = Buffer.from(execution.output).toString('utf8');
    const text = `----- BEGIN OUTPUT job=${execution.jobName} execution=${execution.id} -----\n`
      + `${output}${output === '' || output.endsWith('\n') ? '' : '\n'}`
      + '----- END OUTPUT -----\n';
    if (execution.success) this.streams.out(text);
    else this.streams.err(text);
    return Promise.resolve(forwardedOr(execution, config, 'Output in clocktower log'));
  }
}
