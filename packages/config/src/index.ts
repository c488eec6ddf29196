export { type ApiKey, type ApiRole, apiKeys, hashedApiKeyEntry, sha256Hex } from './api-keys.ts';
export {
  ConfigError,
  duration,
  logLevel,
  onOff,
  optionalString,
  parseEnv,
  port,
  positiveInt,
  redisUrl,
  secondsList,
  url,
} from './env.ts';
export {
  a1topupBackupEnvShape,
  KNOWN_PROVIDERS,
  type ProviderName,
  providerCredentialProblems,
  providerLimitsEnvShape,
  routingEnvShape,
  telgoo5EnvShape,
} from './providers-env.ts';
export { configuredSecrets } from './secrets.ts';
export {
  a1topupEnvShape,
  httpListenerEnvShape,
  statusPollEnvShape,
  storageEnvShape,
} from './shared-env.ts';
