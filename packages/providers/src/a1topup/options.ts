import { RechargeflowError } from '@rechargeflow/domain';

export const A1TOPUP_FORMATS = ['csv', 'json', 'xml'] as const;
export type A1TopupFormat = (typeof A1TOPUP_FORMATS)[number];

export interface A1TopupOptions {
  /**
   * The provider's name in Rechargeflow (default `a1topup`); another account or another
   * aggregator speaking the same API gets its own name, e.g. `a1topup_backup`.
   */
  readonly name?: string;
  /** Scheme, host and optional path prefix, e.g. `http://127.0.0.1:4010` or `https://business.a1topup.com`. */
  readonly baseUrl: string;
  readonly username: string;
  readonly password: string;
  /** Answer format to ask for (default `json`); every format is parsed whatever was asked. */
  readonly format?: A1TopupFormat;
  /** Total time for one call, connect to last body byte (default 30 000). */
  readonly timeoutMs?: number;
  /** TCP/TLS connect time (default 5 000, never more than `timeoutMs`). */
  readonly connectTimeoutMs?: number;
  /** Largest answer body read; a larger one is abandoned and ambiguous (default 64 KiB). */
  readonly maxResponseBytes?: number;
  /**
   * Reuse an idle connection for the next recharge for at most this many ms (default 0: a fresh
   * connection for every recharge). See `providerPools`.
   */
  readonly rechargeKeepAliveMs?: number;
}

export interface A1TopupSettings {
  readonly origin: string;
  /** Path prefix from `baseUrl` without a trailing slash (`''` for none). */
  readonly pathPrefix: string;
  readonly username: string;
  readonly password: string;
  readonly format: A1TopupFormat;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxResponseBytes: number;
  readonly rechargeKeepAliveMs: number;
}

function positiveInt(
  name: string,
  value: number | undefined,
  fallback: number,
  max: number,
  min = 1,
): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new RechargeflowError(`a1topup option ${name} must be a whole number from ${min} to ${max}`, {
      context: { option: name },
    });
  }
  return v;
}

/** The options that bound how long a call may take. */
export type A1TopupTimingOptions = Pick<A1TopupOptions, 'timeoutMs' | 'connectTimeoutMs'>;

/**
 * The time limits a client built from `options` uses: one resolver for the client and for
 * `worstCaseRechargeMs`, so the bound the poller checks is the one the worker runs with.
 */
export function resolveA1TopupTiming(
  options: A1TopupTimingOptions,
): Pick<A1TopupSettings, 'timeoutMs' | 'connectTimeoutMs'> {
  const timeoutMs = positiveInt('timeoutMs', options.timeoutMs, 30_000, 600_000);
  return {
    timeoutMs,
    connectTimeoutMs: Math.min(
      positiveInt('connectTimeoutMs', options.connectTimeoutMs, 5_000, 600_000),
      timeoutMs,
    ),
  };
}

/** Checks options once, at creation; messages name the option and never echo a credential. */
export function resolveA1TopupOptions(options: A1TopupOptions): A1TopupSettings {
  let url: URL;
  try {
    url = new URL(options.baseUrl);
  } catch {
    throw new RechargeflowError('a1topup option baseUrl must be an absolute http(s) URL', {
      context: { option: 'baseUrl' },
    });
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password || url.search) {
    // Credentials belong in the POST body only (docs/product.md, rule 4), never in a URL.
    throw new RechargeflowError(
      'a1topup option baseUrl must be an http(s) URL without credentials or query string',
      { context: { option: 'baseUrl' } },
    );
  }
  if (!options.username) {
    throw new RechargeflowError('a1topup option username is required', { context: { option: 'username' } });
  }
  if (!options.password) {
    throw new RechargeflowError('a1topup option password is required', { context: { option: 'password' } });
  }
  const format = options.format ?? 'json';
  if (!A1TOPUP_FORMATS.includes(format)) {
    throw new RechargeflowError('a1topup option format must be csv, json or xml', {
      context: { option: 'format' },
    });
  }
  return {
    origin: url.origin,
    pathPrefix: url.pathname.replace(/\/+$/, ''),
    username: options.username,
    password: options.password,
    format,
    ...resolveA1TopupTiming(options),
    maxResponseBytes: positiveInt('maxResponseBytes', options.maxResponseBytes, 64 * 1024, 16 * 1024 * 1024),
    rechargeKeepAliveMs: positiveInt('rechargeKeepAliveMs', options.rechargeKeepAliveMs, 0, 60_000, 0),
  };
}
