export { createA1TopupProvider } from './a1topup/client.ts';
export {
  A1TOPUP_FORMATS,
  type A1TopupFormat,
  type A1TopupOptions,
  type A1TopupTimingOptions,
} from './a1topup/options.ts';
export { mapStatus as mapA1TopupStatus } from './a1topup/parse.ts';
export { worstCaseRechargeMs as a1topupWorstCaseRechargeMs } from './a1topup/worst-case.ts';
export {
  createConfiguredProviders,
  type ProvidersConfig,
  type RechargeTimeBound,
  type RechargeTimeConfig,
  worstCaseRechargeTimes,
} from './configured-providers.ts';
export {
  type FailureClass,
  type ProviderAnswer,
  type ProviderBalance,
  ProviderError,
  type RechargeCall,
  type RechargeProvider,
} from './provider.ts';
export { createTelgoo5Provider } from './telgoo5/client.ts';
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
