// Errors that apply() returns for a command the state refuses. They are part
// of the replicated outcome: every server refuses the same command the same way.

export const StateErrorCode = {
  JobNotFound: 'CT_STATE_JOB_NOT_FOUND',
  ParentNotFound: 'CT_STATE_PARENT_NOT_FOUND',
  ParentCycle: 'CT_STATE_PARENT_CYCLE',
  HasDependents: 'CT_STATE_HAS_DEPENDENTS',
  ForbidRunning: 'CT_STATE_FORBID_RUNNING',
  InvalidJob: 'CT_STATE_INVALID_JOB',
  AclBootstrapped: 'CT_STATE_ACL_BOOTSTRAPPED',
  AclNotBootstrapped: 'CT_STATE_ACL_NOT_BOOTSTRAPPED',
  AclTokenNotFound: 'CT_STATE_ACL_TOKEN_NOT_FOUND',
  AclPolicyNotFound: 'CT_STATE_ACL_POLICY_NOT_FOUND',
  AclInvalid: 'CT_STATE_ACL_INVALID',
  OdmTaskNotFound: 'CT_STATE_ODM_TASK_NOT_FOUND',
  OdmTaskExists: 'CT_STATE_ODM_TASK_EXISTS',
  OdmUnknownTaskType: 'CT_STATE_ODM_UNKNOWN_TASK_TYPE',
  RunNotFound: 'CT_STATE_RUN_NOT_FOUND',
  RunFinished: 'CT_STATE_RUN_FINISHED',
  RunNotFinished: 'CT_STATE_RUN_NOT_FINISHED',
} as const;
export type StateErrorCode = (typeof StateErrorCode)[keyof typeof StateErrorCode];

export class StateError extends Error {
  override readonly name = 'StateError';
  constructor(
    readonly code: StateErrorCode,
    message: string,
    /** The job field at fault, for validation errors. */
    readonly field?: string,
  ) {
    super(message);
  }
}

/** A broken invariant or an unknown command: the node must stop rather than serve wrong data. */
export class StateInvariantError extends Error {
  override readonly name = 'StateInvariantError';
  readonly code = 'CT_STATE_INVARIANT';
}
