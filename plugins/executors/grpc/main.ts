#!/usr/bin/env node
// The grpc executor as a plugin program (clocktower-executor-grpc).
import { serveExecutor } from '../../sdk/serve-executor.js';
import { GrpcExecutor } from './grpc-executor.js';

await serveExecutor(new GrpcExecutor());
