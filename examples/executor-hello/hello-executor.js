#!/usr/bin/env node
// clocktower-executor-hello: an executor plugin written against Clocktower's
// plugin SDK, and nothing else of Clocktower's.
//
// Job config (executor_config):
//   name  who to greet (default "world")
//   fail  "true" makes the execution fail after greeting
//
// Clocktower starts this program itself when it finds it in a plugin
// directory as clocktower-executor-hello. It keeps running and serves many
// executions at once. Stdout belongs to the plugin protocol: log to stderr
// (console.error), which ends up in Clocktower's log.

import { Buffer } from 'node:buffer';
import { failure, serveExecutor } from 'clocktower/dist/plugins/sdk/index.js';

const hello = {
  name: 'hello',

  // request: { jobName, config, executionId, scheduledAtMs, attempt }
  // output.write(bytes) streams output as it is produced.
  // signal aborts when the execution is stopped or times out.
  async execute(request, output, signal) {
    const who = request.config.name || 'world';
    output.write(Buffer.from(`Hello, ${who}! This is job ${request.jobName}, attempt ${request.attempt}.\n`));
    if (signal.aborted) return failure('stopped');
    if (request.config.fail === 'true') return failure(`failing on purpose: job ${request.jobName} has fail: "true"`, 1);
    return { success: true, exitCode: 0, error: '' };
  },
};

await serveExecutor(hello);
