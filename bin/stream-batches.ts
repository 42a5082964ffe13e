// Whether this process batches on agent streams (README, "Agent protocol").
// CLOCKTOWER_STREAM_BATCHES=0 makes it speak as a release before batches did
// (single messages only, and it tells its peer it accepts none): for
// rolling-upgrade tests, and a way out should a peer misbehave.

export function streamBatches(env: NodeJS.ProcessEnv = process.env): boolean {
  return env['CLOCKTOWER_STREAM_BATCHES'] !== '0';
}
