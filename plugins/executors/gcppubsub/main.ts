#!/usr/bin/env node
// The Pub/Sub executor under Dkron's name (clocktower-executor-gcppubsub),
// so a Dkron job with "executor": "gcppubsub" runs unchanged.
import { serveExecutor } from '../../sdk/serve-executor.js';
import { PubSubExecutor } from '../pubsub/pubsub-executor.js';

await serveExecutor(new PubSubExecutor('gcppubsub'));
