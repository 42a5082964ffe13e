#!/usr/bin/env node
// The syslog processor as a plugin program (clocktower-processor-syslog).
import { serveProcessor } from '../../sdk/serve-processor.js';
import { SyslogProcessor } from './syslog-processor.js';

await serveProcessor(new SyslogProcessor());
