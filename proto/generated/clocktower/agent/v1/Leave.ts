// Original file: proto/agent.proto


export interface Leave {
}

export interface Leave__Output {
}
