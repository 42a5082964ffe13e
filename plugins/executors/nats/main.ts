#!/usr/bin/env node
// The nats executor as a plugin program (clocktower-executor-nats).
import { serveExecutor } from '../../sdk/serve-executor.js';
import { NatsExecutor } from './nats-executor.js';

await serveExecutor(new NatsExecutor());
