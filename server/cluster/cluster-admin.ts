// What the API's cluster routes ask of a server in a cluster (server/node
// implements it for the built-in Raft and for etcd; server/api calls it).

/** A member as GET /v1/raft/peers lists it. */
export interface PeerView {
  readonly id: string;
  readonly rpc_addr: string;
  readonly http_addr: string;
  readonly leader: boolean;
  readonly voter: boolean;
}

export interface ClusterAdmin {
  /** Set when the command log is not the built-in Raft (e.g. "etcd at http://10.0.0.5:2379"): there are no Raft peers. */
  readonly store?: string;
  peers(): PeerView[];
  /** Remove a server from the cluster (runs on the leader). */
  removePeer(id: string): Promise<void>;
  /** Leave the cluster: hand leadership over if we hold it, have the leader remove us, then stop. */
  leave(): Promise<void>;
}
