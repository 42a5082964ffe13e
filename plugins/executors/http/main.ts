#!/usr/bin/env node
// The http executor as a plugin program (clocktower-executor-http).
import { serveExecutor } from '../../sdk/serve-executor.js';
import { HttpExecutor } from './http-executor.js';

await serveExecutor(new HttpExecutor());
