// ExecutionRecord <-> the proto's Execution message, for both ends of the
// Processor service.

import type { Execution, Execution__Output } from '../../proto/generated/clocktower/plugin/v1/Execution.js';
import type { ExecutionRecord } from './processor.js';

export function toWire(e: ExecutionRecord): Execution {
  return {
    id: e.id, job_name: e.jobName, started_at_ms: String(e.startedAtMs), finished_at_ms: String(e.finishedAtMs),
    success: e.success, output: Buffer.from(e.output.buffer, e.output.byteOffset, e.output.byteLength), node_name: e.nodeName,
    attempt: e.attempt, group: e.group, scheduled_at_ms: String(e.scheduledAtMs),
  };
}

export function fromWire(e: Execution__Output): ExecutionRecord {
  return {
    id: e.id, jobName: e.job_name, startedAtMs: Number(e.started_at_ms), finishedAtMs: Number(e.finished_at_ms),
    success: e.success, output: e.output, nodeName: e.node_name, attempt: e.attempt, group: e.group, scheduledAtMs: Number(e.scheduled_at_ms),
  };
}
