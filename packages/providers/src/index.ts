// The provider contract lives in the domain (see its provider-contract.ts); re-exported here so
// code that builds providers can take everything from one package.
export {
  type CallbackStatus,
  type FailureClass,
  type ProviderAnswer,
  type ProviderBalance,
  type ProviderCatalog,
  ProviderError,
  type RechargeCall,
  type RechargeProvider,
} from '@rechargeflow/domain';
export { createA1TopupProvider } from './a1topup/client.ts';
export { type A1TopupProtocolSettings, a1topupProtocolModule } from './a1topup/module.ts';
export {
  A1TOPUP_FORMATS,
  type A1TopupFormat,
  type A1TopupOptions,
  type A1TopupTimingOptions,
} from './a1topup/options.ts';
export { worstCaseRechargeMs as a1topupWorstCaseRechargeMs } from './a1topup/worst-case.ts';
export { createConfiguredProviders, worstCaseRechargeTimes } from './configured-providers.ts';
export {
  type CallbackSpec,
  type CallSettings,
  type CallTiming,
  type ClientContext,
  type ProviderModule,
  providerCallEnvShape,
  type RequestExtension,
  type WorkerLimits,
  workerLimitsEnv,
  workerLimitsOf,
} from './module.ts';
export {
  type CallbackModule,
  createProviderRegistry,
  type OwnedExtension,
  type ProviderRegistry,
  type ProvidersConfig,
  type RechargeTimeBound,
  type RechargeTimeConfig,
} from './provider-registry.ts';
export {
  PROVIDER_MODULES,
  PROVIDER_NAMES,
  providerCredentialProblems,
  providerLimitsEnvShape,
  providerRegistry,
  providersEnvShape,
  providersInUseEnvShape,
} from './registry.ts';
export { createTelgoo5Provider } from './telgoo5/client.ts';
export { telgoo5Module } from './telgoo5/module.ts';
export {
  TELGOO5_PAYMENT_METHODS,
  TELGOO5_SOURCES,
  type Telgoo5Options,
  type Telgoo5PaymentMethod,
  type Telgoo5Source,
  type Telgoo5TimingOptions,
} from './telgoo5/options.ts';
export { type Envelope as Telgoo5Envelope, parseEnvelope as parseTelgoo5Envelope } from './telgoo5/parse.ts';
export {
  createRedisTokenLease,
  jwtExpiryMs,
  type RedisTokenLeaseOptions,
  type TokenLease,
} from './telgoo5/token-lease.ts';
export { worstCaseRechargeMs as telgoo5WorstCaseRechargeMs } from './telgoo5/worst-case.ts';
