#!/usr/bin/env node
// The kafka executor as a plugin program (clocktower-executor-kafka).
import { serveExecutor } from '../../sdk/serve-executor.js';
import { KafkaExecutor } from './kafka-executor.js';

await serveExecutor(new KafkaExecutor());
