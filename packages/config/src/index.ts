export { type ApiKey, type ApiRole, apiKeys, hashedApiKeyEntry, sha256Hex } from './api-keys.ts';
export { ConfigError } from './config-error.ts';
export {
  duration,
  host,
  logLevel,
  nonNegativeInt,
  oneOf,
  onOff,
  optionalPositiveInt,
  optionalString,
  parseEnv,
  port,
  positiveInt,
  redisUrl,
  secondsList,
  text,
  unsetWhenBlank,
  url,
} from './env.ts';
export { routingEnvShape } from './routing-env.ts';
export { configuredSecrets } from './secrets.ts';
export {
  httpListenerEnvShape,
  metricsEnvShape,
  statusCheckTimes,
  statusPollEnvShape,
  storageEnvShape,
} from './shared-env.ts';
export { webhookEnvShape } from './webhook-env.ts';
