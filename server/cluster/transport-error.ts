// The Raft transport's typed errors. send() never throws; these reach the
// caller from start() and addService(), and the log (and gRPC statuses) for
// what arrives malformed from a peer.

export type TransportErrorCode =
  /** The listen address could not be bound. */
  | 'CT_TRANSPORT_BIND'
  /** A peer sent something that is not a valid Raft message or snapshot. */
  | 'CT_TRANSPORT_BAD_MESSAGE'
  /** The transport was used out of order (e.g. addService after start). */
  | 'CT_TRANSPORT_MISUSE'
  /** The transport is closed. */
  | 'CT_TRANSPORT_CLOSED';

export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    readonly code: TransportErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
