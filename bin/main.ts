#!/usr/bin/env node
// The `clocktower` executable: parse nothing here, hand over to run().
import { run } from './run.js';

// No top-level await: the single executable is this module bundled as CommonJS.
void run(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
}).then((code) => {
  process.exitCode = code;
});
