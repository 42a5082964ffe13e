// Original file: proto/agent.proto


export interface Register {
  'node'?: (string);
  'tags'?: ({[key: string]: string});
  'executors'?: (string)[];
  'capacity'?: (number);
  'instance'?: (string);
  'version'?: (string);
  'running'?: (string)[];
}

export interface Register__Output {
  'node': (string);
  'tags': ({[key: string]: string});
  'executors': (string)[];
  'capacity': (number);
  'instance': (string);
  'version': (string);
  'running': (string)[];
}
