import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createA1TopupProvider } from './a1topup/client.ts';
import type { A1TopupFormat } from './a1topup/options.ts';
import { worstCaseRechargeMs as a1topupWorstCaseMs } from './a1topup/worst-case.ts';
import type { RechargeProvider } from './provider.ts';
import { createTelgoo5Provider } from './telgoo5/client.ts';
import type { Telgoo5PaymentMethod, Telgoo5Source } from './telgoo5/options.ts';
import { createRedisTokenLease } from './telgoo5/token-lease.ts';
import { worstCaseRechargeMs as telgoo5WorstCaseMs } from './telgoo5/worst-case.ts';

/** The providers section of an app's configuration (the env variables of the same names). */
export interface ProvidersConfig {
  readonly PROVIDERS: readonly string[];
  readonly PROVIDER_TIMEOUT_MS: number;
  readonly PROVIDER_CONNECT_TIMEOUT_MS: number;
  readonly PROVIDER_MAX_RESPONSE_BYTES: number;
  readonly A1TOPUP_BASE_URL: string;
  readonly A1TOPUP_USERNAME?: string | undefined;
  readonly A1TOPUP_PASSWORD?: string | undefined;
  readonly A1TOPUP_FORMAT: A1TopupFormat;
  readonly A1TOPUP_BACKUP_BASE_URL?: string | undefined;
  readonly A1TOPUP_BACKUP_USERNAME?: string | undefined;
  readonly A1TOPUP_BACKUP_PASSWORD?: string | undefined;
  readonly A1TOPUP_BACKUP_FORMAT: A1TopupFormat;
  readonly TELGOO5_BASE_URL: string;
  readonly TELGOO5_VENDOR_ID?: string | undefined;
  readonly TELGOO5_USERNAME?: string | undefined;
  readonly TELGOO5_PASSWORD?: string | undefined;
  readonly TELGOO5_PIN?: string | undefined;
  readonly TELGOO5_AGENT_ID?: string | undefined;
  readonly TELGOO5_SOURCE: Telgoo5Source;
  readonly TELGOO5_PAYMENT_METHOD: Telgoo5PaymentMethod;
  readonly TELGOO5_TOKEN_HEADER: string;
  /** Worker settings (absent in parts that make no recharges: 0, a fresh connection per recharge). */
  readonly A1TOPUP_RECHARGE_KEEP_ALIVE_MS?: number | undefined;
  readonly A1TOPUP_BACKUP_RECHARGE_KEEP_ALIVE_MS?: number | undefined;
  readonly TELGOO5_RECHARGE_KEEP_ALIVE_MS?: number | undefined;
}

/** The part of the providers configuration that decides how long a recharge call may take. */
export type RechargeTimeConfig = Pick<
  ProvidersConfig,
  'PROVIDERS' | 'PROVIDER_TIMEOUT_MS' | 'PROVIDER_CONNECT_TIMEOUT_MS'
>;

export interface RechargeTimeBound {
  readonly provider: string;
  /** The longest one recharge call of this provider can take, in ms (see each `worstCaseRechargeMs`). */
  readonly worstCaseMs: number;
}

/** What bounds a call's time, as every client gets it: one place for the clients and their bounds. */
function timingOptions(config: RechargeTimeConfig) {
  return { timeoutMs: config.PROVIDER_TIMEOUT_MS, connectTimeoutMs: config.PROVIDER_CONNECT_TIMEOUT_MS };
}

/**
 * The providers in use, built from configuration (credentials were checked when it was parsed).
 * Telgoo5's single-use tokens live in Redis under `tokenKeyPrefix`, shared by every process and
 * sealed with a key derived from the Telgoo5 credentials, so a Redis dump holds no usable token.
 */
export function createConfiguredProviders(
  config: ProvidersConfig,
  redis: Redis,
  tokenKeyPrefix: string,
): Map<string, RechargeProvider> {
  const common = { ...timingOptions(config), maxResponseBytes: config.PROVIDER_MAX_RESPONSE_BYTES };
  const providers = new Map<string, RechargeProvider>();
  if (config.PROVIDERS.includes('a1topup')) {
    const a1topup = createA1TopupProvider({
      ...common,
      baseUrl: config.A1TOPUP_BASE_URL,
      username: config.A1TOPUP_USERNAME ?? '',
      password: config.A1TOPUP_PASSWORD ?? '',
      format: config.A1TOPUP_FORMAT,
      rechargeKeepAliveMs: config.A1TOPUP_RECHARGE_KEEP_ALIVE_MS ?? 0,
    });
    providers.set(a1topup.name, a1topup);
  }
  if (config.PROVIDERS.includes('a1topup_backup')) {
    const backup = createA1TopupProvider({
      ...common,
      name: 'a1topup_backup',
      baseUrl: config.A1TOPUP_BACKUP_BASE_URL ?? '',
      username: config.A1TOPUP_BACKUP_USERNAME ?? '',
      password: config.A1TOPUP_BACKUP_PASSWORD ?? '',
      format: config.A1TOPUP_BACKUP_FORMAT,
      rechargeKeepAliveMs: config.A1TOPUP_BACKUP_RECHARGE_KEEP_ALIVE_MS ?? 0,
    });
    providers.set(backup.name, backup);
  }
  if (config.PROVIDERS.includes('telgoo5')) {
    const secret = createHash('sha256')
      .update(`${config.TELGOO5_VENDOR_ID}\u0000${config.TELGOO5_PASSWORD}\u0000${config.TELGOO5_PIN}`)
      .digest('hex');
    const tokens = createRedisTokenLease({
      redis,
      key: `${tokenKeyPrefix}:telgoo5:tokens`,
      encryptionKey: secret,
    });
    const telgoo5 = createTelgoo5Provider({
      ...common,
      baseUrl: config.TELGOO5_BASE_URL,
      vendorId: config.TELGOO5_VENDOR_ID ?? '',
      username: config.TELGOO5_USERNAME ?? '',
      password: config.TELGOO5_PASSWORD ?? '',
      pin: config.TELGOO5_PIN ?? '',
      agentId: config.TELGOO5_AGENT_ID ?? '',
      source: config.TELGOO5_SOURCE,
      paymentMethod: config.TELGOO5_PAYMENT_METHOD,
      tokenHeader: config.TELGOO5_TOKEN_HEADER,
      rechargeKeepAliveMs: config.TELGOO5_RECHARGE_KEEP_ALIVE_MS ?? 0,
      tokens,
    });
    providers.set(telgoo5.name, telgoo5);
  }
  return providers;
}

/**
 * The worst-case wall time of one recharge call of each provider `createConfiguredProviders` would
 * build from `config`, with the same options: whatever watches for a call that died (the poller's
 * stuck-order sweep) must wait longer than this, or it takes a call still running for a dead one.
 */
export function worstCaseRechargeTimes(config: RechargeTimeConfig): RechargeTimeBound[] {
  const timing = timingOptions(config);
  const bounds: RechargeTimeBound[] = [];
  if (config.PROVIDERS.includes('a1topup'))
    bounds.push({ provider: 'a1topup', worstCaseMs: a1topupWorstCaseMs(timing) });
  if (config.PROVIDERS.includes('a1topup_backup'))
    bounds.push({ provider: 'a1topup_backup', worstCaseMs: a1topupWorstCaseMs(timing) });
  if (config.PROVIDERS.includes('telgoo5'))
    bounds.push({ provider: 'telgoo5', worstCaseMs: telgoo5WorstCaseMs(timing) });
  return bounds;
}
