#!/usr/bin/env node
// The fluent processor as a plugin program (clocktower-processor-fluent).
import { serveProcessor } from '../../sdk/serve-processor.js';
import { FluentProcessor } from './fluent-processor.js';

await serveProcessor(new FluentProcessor());
