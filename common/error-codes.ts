// The stable codes an execution's failure carries across processes (plugin ->
// agent -> server -> REST API), beside its message. The message may change
// wording; a code never changes meaning. "" (or no code) means success.
// Whoever produces a failure names it; a result from an older plugin or agent
// that names none gets one from its host (withErrorCode below).

export const ExecErrorCode = {
  /** The job itself failed: a non-zero exit, an HTTP status not expected, a plugin's success=false without a code. */
  Failed: 'CT_EXEC_FAILED',
  /** The executor's own time limit (executor_config `timeout`) ran out; what ran was ended. */
  Timeout: 'CT_EXEC_TIMEOUT',
  /** Stopped on request (a Stop, the job's run stopped, the agent or server shutting down). */
  Stopped: 'CT_EXEC_STOPPED',
  /** The shell executor's `mem_limit` was exceeded; the process tree was killed. */
  MemoryLimit: 'CT_EXEC_MEMORY_LIMIT',
  /** The executor_config is not valid for the executor (also a plugin Validate's rejection when a job is saved). */
  ConfigInvalid: 'CT_EXEC_CONFIG_INVALID',
  /** No executor of that name on the node that ran it. */
  UnknownExecutor: 'CT_EXEC_UNKNOWN_EXECUTOR',
  /** The plugin program could not be started (not found, no handshake, not healthy). */
  PluginUnavailable: 'CT_EXEC_PLUGIN_UNAVAILABLE',
  /** The plugin program died, or its stream ended or broke, before it sent the result. */
  PluginCrashed: 'CT_EXEC_PLUGIN_CRASHED',
  /** The agent running it went away, restarted or stopped sending heartbeats: the outcome is unknown. */
  AgentLost: 'CT_EXEC_AGENT_LOST',
  /** The agent it was sent to was shutting down and took no new work. */
  AgentDraining: 'CT_EXEC_AGENT_DRAINING',
  /** No agent matched the job's tags when it fired. */
  NoAgent: 'CT_EXEC_NO_AGENT',
} as const;
export type ExecErrorCode = (typeof ExecErrorCode)[keyof typeof ExecErrorCode];

/** Every code above, for checks and documentation. */
export const execErrorCodes: readonly string[] = Object.values(ExecErrorCode);

/**
 * The code a result carries: "" for a success, its own when it names one,
 * else `fallback` (CT_EXEC_FAILED: an older plugin's success=false).
 */
export function errorCodeOf(result: { readonly success: boolean; readonly errorCode?: string | undefined }, fallback: string = ExecErrorCode.Failed): string {
  if (result.success) return '';
  return result.errorCode !== undefined && result.errorCode !== '' ? result.errorCode : fallback;
}
