#!/usr/bin/env node
// The Pub/Sub executor as a plugin program (clocktower-executor-pubsub).
import { serveExecutor } from '../../sdk/serve-executor.js';
import { PubSubExecutor } from './pubsub-executor.js';

await serveExecutor(new PubSubExecutor('pubsub'));
