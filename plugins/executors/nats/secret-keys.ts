// The nats executor's secret executor_config keys (its password and token),
// declared to the host through the plugin SDK. Its own module, so the host
// knows them without loading the executor (nats) or starting its program.

export const natsSecretKeys: readonly string[] = ['password', 'token'];
