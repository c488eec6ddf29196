import { RechargeflowError } from '@rechargeflow/domain';
import type { TokenLease } from './token-lease.ts';

export const TELGOO5_SOURCES = ['WEBSITE', 'API', 'TABLET'] as const;
export type Telgoo5Source = (typeof TELGOO5_SOURCES)[number];

export const TELGOO5_PAYMENT_METHODS = ['CREDIT_CARD', 'PAYPAL_BRAINTREE', 'OTHER_PAYMENT_OPTION'] as const;
export type Telgoo5PaymentMethod = (typeof TELGOO5_PAYMENT_METHODS)[number];

export interface Telgoo5Options {
  /** Scheme, host and optional path prefix: `${baseUrl}/authenticate` and `${baseUrl}/topup`. */
  readonly baseUrl: string;
  /** Issued by the provider's account manager; sent to `/authenticate` only. */
  readonly vendorId: string;
  readonly username: string;
  readonly password: string;
  readonly pin: string;
  /** The Telgoo5 user id of the agent sending the requests (`agent_id`). */
  readonly agentId: string;
  /** `source` of every top-up (default `API`). */
  readonly source?: Telgoo5Source;
  /** `payment_method`, which decides the processing fee (default `CREDIT_CARD`; a saved profile). */
  readonly paymentMethod?: Telgoo5PaymentMethod;
  /** Request header that carries the token (default `token`; the document does not name it). */
  readonly tokenHeader?: string;
  /** Total time for one HTTP call, connect to last body byte (default 30 000). */
  readonly timeoutMs?: number;
  /** TCP/TLS connect time (default 5 000, never more than `timeoutMs`). */
  readonly connectTimeoutMs?: number;
  /** Largest answer body read; a larger one is abandoned and ambiguous (default 64 KiB). */
  readonly maxResponseBytes?: number;
  /**
   * Reuse an idle connection for the next top-up for at most this many ms (default 0: a fresh
   * connection for every top-up). See `providerPools`.
   */
  readonly rechargeKeepAliveMs?: number;
  /** The shared single-use token pool (see `createRedisTokenLease`). */
  readonly tokens: TokenLease;
  /** Sends retried with a fresh token after a RESTAPI001 token rejection (default 3, at most 10). */
  readonly maxTokenRetries?: number;
  /**
   * How long one call may wait for a token another process is fetching before authenticating
   * itself (default 10 000).
   */
  readonly authWaitMs?: number;
}

export interface Telgoo5Settings {
  readonly origin: string;
  readonly pathPrefix: string;
  readonly vendorId: string;
  readonly username: string;
  readonly password: string;
  readonly pin: string;
  readonly agentId: string;
  readonly source: Telgoo5Source;
  readonly paymentMethod: Telgoo5PaymentMethod;
  readonly tokenHeader: string;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxResponseBytes: number;
  readonly rechargeKeepAliveMs: number;
  readonly maxTokenRetries: number;
  readonly authWaitMs: number;
}

function fail(option: string, message: string): never {
  throw new RechargeflowError(`telgoo5 option ${option} ${message}`, { context: { option } });
}

function wholeNumber(name: string, value: number | undefined, fallback: number, min: number, max: number) {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min || v > max)
    fail(name, `must be a whole number from ${min} to ${max}`);
  return v;
}

function required(name: string, value: string | undefined): string {
  if (typeof value !== 'string' || value.trim() === '') fail(name, 'is required');
  return value;
}

/** The options that bound how long a call may take. */
export type Telgoo5TimingOptions = Pick<
  Telgoo5Options,
  'timeoutMs' | 'connectTimeoutMs' | 'maxTokenRetries' | 'authWaitMs'
>;

/**
 * The time limits and tries a client built from `options` uses: one resolver for the client and for
 * `worstCaseRechargeMs`, so the bound the poller checks is the one the worker runs with.
 */
export function resolveTelgoo5Timing(
  options: Telgoo5TimingOptions,
): Pick<Telgoo5Settings, 'timeoutMs' | 'connectTimeoutMs' | 'maxTokenRetries' | 'authWaitMs'> {
  const timeoutMs = wholeNumber('timeoutMs', options.timeoutMs, 30_000, 1, 600_000);
  return {
    timeoutMs,
    connectTimeoutMs: Math.min(
      wholeNumber('connectTimeoutMs', options.connectTimeoutMs, 5_000, 1, 600_000),
      timeoutMs,
    ),
    maxTokenRetries: wholeNumber('maxTokenRetries', options.maxTokenRetries, 3, 0, 10),
    authWaitMs: wholeNumber('authWaitMs', options.authWaitMs, 10_000, 0, 600_000),
  };
}

/** Checks options once, at creation; messages name the option and never echo a credential. */
export function resolveTelgoo5Options(options: Telgoo5Options): Telgoo5Settings {
  let url: URL;
  try {
    url = new URL(options.baseUrl);
  } catch {
    fail('baseUrl', 'must be an absolute http(s) URL');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password || url.search) {
    fail('baseUrl', 'must be an http(s) URL without credentials or query string');
  }
  const source = options.source ?? 'API';
  if (!TELGOO5_SOURCES.includes(source)) fail('source', `must be one of ${TELGOO5_SOURCES.join(', ')}`);
  const paymentMethod = options.paymentMethod ?? 'CREDIT_CARD';
  if (!TELGOO5_PAYMENT_METHODS.includes(paymentMethod)) {
    fail('paymentMethod', `must be one of ${TELGOO5_PAYMENT_METHODS.join(', ')}`);
  }
  const tokenHeader = (options.tokenHeader ?? 'token').toLowerCase();
  if (!/^[a-z0-9!#$%&'*+.^_`|~-]{1,64}$/.test(tokenHeader))
    fail('tokenHeader', 'must be an HTTP header name');
  if (typeof options.tokens?.take !== 'function') fail('tokens', 'is required (a token lease)');
  const timing = resolveTelgoo5Timing(options);
  return {
    origin: url.origin,
    pathPrefix: url.pathname.replace(/\/+$/, ''),
    vendorId: required('vendorId', options.vendorId),
    username: required('username', options.username),
    password: required('password', options.password),
    pin: required('pin', options.pin),
    agentId: required('agentId', options.agentId),
    source,
    paymentMethod,
    tokenHeader,
    ...timing,
    maxResponseBytes: wholeNumber(
      'maxResponseBytes',
      options.maxResponseBytes,
      64 * 1024,
      1,
      16 * 1024 * 1024,
    ),
    rechargeKeepAliveMs: wholeNumber('rechargeKeepAliveMs', options.rechargeKeepAliveMs, 0, 0, 60_000),
  };
}
