// Original file: proto/plugin.proto


export interface DescribeRequest {
}

export interface DescribeRequest__Output {
}
