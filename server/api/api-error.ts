// Errors the API answers with, and the one table from a stable error code to
// an HTTP status (and the gRPC status the same error carries between processes).

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: string,
    message: string,
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** code -> [HTTP status, gRPC status code]. Unknown codes are 500 / INTERNAL (13). */
export const errorStatus: Readonly<Record<string, readonly [http: number, grpc: number]>> = {
  CT_API_BAD_JSON: [400, 3],
  CT_API_INVALID_FIELD: [400, 3],
  CT_API_UNKNOWN_FIELD: [400, 3],
  CT_API_BAD_QUERY: [400, 3],
  CT_API_BAD_PATH: [400, 3],
  CT_API_BAD_REQUEST: [400, 3],
  CT_API_BAD_RESTORE: [400, 3],
  CT_STATE_INVALID_JOB: [400, 3],
  CT_SCHEDULE_INVALID: [400, 3],
  CT_STATE_ACL_INVALID: [400, 3],
  // Errors of another process (an executor plugin, an agent) that an API answer depends on.
  CT_EXEC_CONFIG_INVALID: [400, 3],
  CT_EXEC_UNKNOWN_EXECUTOR: [400, 3],
  CT_EXEC_PLUGIN_UNAVAILABLE: [503, 14],
  CT_EXEC_PLUGIN_CRASHED: [502, 14],
  CT_API_UNAUTHORIZED: [401, 16],
  CT_API_CROSS_ORIGIN: [403, 7],
  CT_API_FORBIDDEN: [403, 7],
  CT_STATE_ACL_TOKEN_NOT_FOUND: [404, 5],
  CT_STATE_ACL_POLICY_NOT_FOUND: [404, 5],
  CT_STATE_ACL_BOOTSTRAPPED: [409, 9],
  CT_STATE_ACL_NOT_BOOTSTRAPPED: [409, 9],
  CT_API_NOT_FOUND: [404, 5],
  CT_STATE_JOB_NOT_FOUND: [404, 5],
  CT_STATE_PARENT_NOT_FOUND: [404, 5],
  CT_API_EXECUTION_NOT_FOUND: [404, 5],
  CT_API_VERSION_NOT_FOUND: [404, 5],
  CT_PULL_UNKNOWN_SESSION: [404, 5],
  CT_PULL_REFUSED: [409, 9],
  CT_API_METHOD_NOT_ALLOWED: [405, 12],
  CT_STATE_ODM_TASK_NOT_FOUND: [404, 5],
  CT_STATE_ODM_TASK_EXISTS: [409, 6],
  CT_STATE_ODM_UNKNOWN_TASK_TYPE: [422, 9],
  CT_STATE_HAS_DEPENDENTS: [409, 9],
  CT_STATE_RUN_NOT_FOUND: [404, 5],
  CT_STATE_RUN_FINISHED: [409, 9],
  CT_STATE_RUN_NOT_FINISHED: [409, 9],
  CT_STATE_PARENT_CYCLE: [409, 9],
  CT_STATE_FORBID_RUNNING: [409, 9],
  CT_API_NOT_RUNNING: [409, 9],
  CT_API_VERSION_DELETED: [409, 9],
  CT_API_BODY_TOO_LARGE: [413, 8],
  CT_CLUSTER_ENTRY_TOO_LARGE: [413, 8],
  CT_API_HEADERS_TOO_LARGE: [431, 8],
  CT_API_REQUEST_TIMEOUT: [408, 4],
  CT_API_UNSUPPORTED_MEDIA: [415, 3],
  CT_API_HOST_NOT_ALLOWED: [421, 7],
  CT_CLUSTER_NOT_LEADER: [503, 14],
  CT_CLUSTER_CLOSED: [503, 14],
  CT_CLUSTER_STORAGE: [503, 14],
  CT_API_NOT_READY: [503, 14],
};

export function httpStatusOf(code: string): number {
  return errorStatus[code]?.[0] ?? 500;
}

export function grpcStatusOf(code: string): number {
  return errorStatus[code]?.[1] ?? 13;
}

/** The JSON body of an error answer. */
export function errorBody(err: { code: string; message: string; field?: string | undefined }): string {
  const body: { code: string; message: string; field?: string } = { code: err.code, message: err.message };
  if (err.field !== undefined) body.field = err.field;
  return JSON.stringify({ error: body });
}
