// The kafka executor's secret executor_config keys (its SASL password),
// declared to the host through the plugin SDK. Its own module, so the host
// knows them without loading the executor (kafkajs) or starting its program.

export const kafkaSecretKeys: readonly string[] = ['saslPassword'];
