import type { RechargeProvider } from '@rechargeflow/domain';
import type { Cluster, Redis } from 'ioredis';
import type { ProvidersConfig, RechargeTimeBound, RechargeTimeConfig } from './provider-registry.ts';
import { providerRegistry } from './registry.ts';

/**
 * The clients of the providers in use (PROVIDERS), each built by its module from configuration
 * (credentials were checked when it was parsed), in registry order. State a provider shares across
 * processes (Telgoo5's single-use tokens) lives in `redis` under `tokenKeyPrefix`.
 */
export function createConfiguredProviders(
  config: ProvidersConfig,
  redis: Redis | Cluster,
  tokenKeyPrefix: string,
): Map<string, RechargeProvider> {
  return providerRegistry.createClients(config, redis, tokenKeyPrefix);
}

/**
 * The worst-case wall time of one recharge call of each provider `createConfiguredProviders` would
 * build from `config`, with the same options: whatever watches for a call that died (the poller's
 * stuck-order sweep) must wait longer than this, or it takes a call still running for a dead one.
 */
export function worstCaseRechargeTimes(config: RechargeTimeConfig): RechargeTimeBound[] {
  return providerRegistry.worstCaseRechargeTimes(config);
}
