// A job spec with every field at a plain default, for tests and benches that
// drive the state machine directly; `over` sets what the case is about.

import { defaultCatchUp, type JobSpec } from '../../server/state/job.js';

export function jobSpec(name: string, over: Partial<JobSpec> = {}): JobSpec {
  return {
    name, displayName: '', timezone: '', schedule: '@every 1s', owner: '', ownerEmail: '', disabled: false,
    tags: {}, metadata: {}, retries: 0, parentJob: '', processors: {}, concurrency: 'allow', executor: 'shell',
    executorConfig: { command: 'true' }, ephemeral: false, startsAtMs: null, expiresAtMs: null, catchUp: defaultCatchUp,
    ...over,
  };
}
