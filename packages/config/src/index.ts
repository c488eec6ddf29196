export { type ApiKey, type ApiRole, apiKeys, hashedApiKeyEntry, sha256Hex } from './api-keys.ts';
export { archiveEnvShape } from './archive-env.ts';
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
  type RedisClusterSeeds,
  redisUrl,
  secondsList,
  someOf,
  text,
  unsetWhenBlank,
  url,
} from './env.ts';
export { routingEnvShape } from './routing-env.ts';
export { configuredSecrets } from './secrets.ts';
export {
  batchRowEnvShape,
  httpListenerEnvShape,
  metricsEnvShape,
  redisRoles,
  statusCheckTimes,
  statusPollEnvShape,
  storageEnvShape,
} from './shared-env.ts';
export { MAX_WEBHOOK_RETRY_FOR_MS, webhookEnvShape } from './webhook-env.ts';
