// Original file: proto/agent.proto


export interface Heartbeat {
  'running'?: (number);
  'queued'?: (number);
}

export interface Heartbeat__Output {
  'running': (number);
  'queued': (number);
}
