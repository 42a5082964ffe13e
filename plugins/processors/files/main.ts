#!/usr/bin/env node
// The files processor as a plugin program (clocktower-processor-files).
import { serveProcessor } from '../../sdk/serve-processor.js';
import { FilesProcessor } from './files-processor.js';

await serveProcessor(new FilesProcessor());
