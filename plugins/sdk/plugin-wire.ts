// The plugin protocol's conversions, both ends: the SDK's ExecuteRequest /
// ExecuteResult to and from proto/plugin.proto's messages. Used by the host
// (plugin-executor.ts, plugin-session.ts) and the plugin (serve-executor.ts,
// serve-session.ts), so both read and write the fields one way.

import type { ExecuteRequest as WireRequest, ExecuteRequest__Output as WireRequestOut } from '../../proto/generated/clocktower/plugin/v1/ExecuteRequest.js';
import type { ExecuteResult as WireResult, ExecuteResult__Output as WireResultOut } from '../../proto/generated/clocktower/plugin/v1/ExecuteResult.js';
import { errorCodeOf } from '../../common/error-codes.js';
import type { ExecuteRequest, ExecuteResult } from './executor.js';

export function toWireRequest(req: ExecuteRequest): WireRequest {
  return {
    job_name: req.jobName, config: { ...req.config }, execution_id: req.executionId,
    scheduled_at_ms: String(req.scheduledAtMs), attempt: req.attempt, params: { ...(req.params ?? {}) },
  };
}

export function fromWireRequest(r: WireRequestOut): ExecuteRequest {
  return {
    jobName: r.job_name, config: r.config, executionId: r.execution_id, scheduledAtMs: Number(r.scheduled_at_ms), attempt: r.attempt,
    // An older host sends no params: none.
    ...(Object.keys(r.params ?? {}).length > 0 ? { params: r.params } : {}),
  };
}

/** A failure always goes out with a code (CT_EXEC_FAILED when the executor named none); a success with "". */
export function toWireResult(result: ExecuteResult): WireResult {
  return {
    success: result.success, exit_code: result.exitCode, error: result.error, params_out: { ...(result.paramsOut ?? {}) },
    error_code: errorCodeOf(result),
  };
}

/** An older plugin sends no params_out and no error_code: none, and CT_EXEC_FAILED for a failure. */
export function fromWireResult(r: WireResultOut): ExecuteResult {
  const paramsOut = r.params_out ?? {};
  const errorCode = errorCodeOf({ success: r.success, errorCode: r.error_code });
  return {
    success: r.success, exitCode: r.exit_code, error: r.error,
    ...(Object.keys(paramsOut).length > 0 ? { paramsOut } : {}),
    ...(errorCode !== '' ? { errorCode } : {}),
  };
}
