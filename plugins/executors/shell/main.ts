#!/usr/bin/env node
// The shell executor as a plugin program (clocktower-executor-shell).
import { serveExecutor } from '../../sdk/serve-executor.js';
import { ShellExecutor } from './shell-executor.js';

await serveExecutor(new ShellExecutor());
