#!/usr/bin/env node
// The log processor as a plugin program (clocktower-processor-log).
import { serveProcessor } from '../../sdk/serve-processor.js';
import { LogProcessor } from './log-processor.js';

await serveProcessor(new LogProcessor());
