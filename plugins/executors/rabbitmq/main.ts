#!/usr/bin/env node
// The rabbitmq executor as a plugin program (clocktower-executor-rabbitmq).
import { serveExecutor } from '../../sdk/serve-executor.js';
import { RabbitmqExecutor } from './rabbitmq-executor.js';

await serveExecutor(new RabbitmqExecutor());
