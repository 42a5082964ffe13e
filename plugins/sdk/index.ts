// The plugin SDK's public entry: what a plugin author imports to write an
// executor in JavaScript or TypeScript. Installed as a dependency, it is
// `clocktower/dist/plugins/sdk/index.js` (see examples/executor-hello).

export { serveExecutor } from './serve-executor.js';
export { ExecErrorCode, failure } from './executor.js';
export type { ExecuteRequest, ExecuteResult, Executor, OutputSink } from './executor.js';
export { valueAt } from './json-path.js';
