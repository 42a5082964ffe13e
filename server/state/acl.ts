// Access control data kept in the replicated state: tokens and policies.
// Only a SHA-256 hash of a token's secret is stored; the secret itself is
// shown once, to whoever created it. The leader draws secrets and accessor
// ids and computes hashes; apply() stores what the command carries.

/** How much a policy lets a token do with the jobs under a name prefix. */
export type JobLevel = 'deny' | 'read' | 'run' | 'write';
/** How much a policy lets a token do with the cluster (operator) or with tokens and policies (acl). */
export type ClusterLevel = 'deny' | 'read' | 'write';

export const jobLevels: readonly JobLevel[] = ['deny', 'read', 'run', 'write'];
export const clusterLevels: readonly ClusterLevel[] = ['deny', 'read', 'write'];

/** What a policy grants, normalized (the policy file's forms are parsed by server/security). */
export interface PolicyRules {
  /** Job-name prefix -> level; "" is every job. */
  readonly jobs: Readonly<Record<string, JobLevel>>;
  /** raft, members, agents, leave, restore, pause, metrics. */
  readonly operator?: ClusterLevel;
  /** tokens and policies. */
  readonly acl?: ClusterLevel;
}

export interface AclPolicy {
  readonly name: string;
  readonly description: string;
  readonly rules: PolicyRules;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

export interface AclToken {
  /** The public id of the token: recorded as who made a change, used to list and delete it. */
  readonly accessor: string;
  /** Lower-case hex SHA-256 of the secret. */
  readonly secretHash: string;
  readonly description: string;
  /** Names of the policies it holds (a policy deleted later simply grants nothing). */
  readonly policies: readonly string[];
  /** A management token may do everything. */
  readonly management: boolean;
  readonly createdAtMs: number;
  /** From then on the token is refused; null: never. */
  readonly expiresAtMs: number | null;
}

/** A policy name: what a job name may be, so it is safe in a path and a file name. */
export const policyNamePattern = /^[a-z0-9][a-z0-9_-]{0,127}$/;

/** The policy whose rules apply to a request without a token once ACLs are on. */
export const anonymousPolicyName = 'anonymous';
