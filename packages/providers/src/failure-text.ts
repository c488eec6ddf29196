import { Pool } from 'undici';

/** What a client was allowed, for the plain-language detail of a transport failure. */
export interface TransportLimits {
  readonly connectTimeoutMs: number;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
}

/** The plain-language detail of a classified transport failure (see classifyTransportError). */
export function transportDetail(reason: string, limits: TransportLimits): string {
  switch (reason) {
    case 'connection_refused':
      return 'the provider refused the connection';
    case 'dns_failure':
      return 'the provider host name could not be resolved';
    case 'connect_timeout':
      return `no connection within ${limits.connectTimeoutMs} ms`;
    case 'unreachable':
      return 'the provider host is unreachable';
    case 'tls_refused':
      return 'the provider certificate was not accepted';
    case 'closed':
      return 'the provider client is closed';
    case 'timeout':
      return `no complete answer within ${limits.timeoutMs} ms`;
    case 'connection_reset':
      return 'the connection closed before a complete answer';
    case 'response_too_large':
      return `the answer was larger than ${limits.maxResponseBytes} bytes`;
    default:
      return 'the request failed in transit';
  }
}

/** A short excerpt of provider text for an error: scrubbed, control characters folded, cut at `max`. */
export function excerptOf(text: string, scrub: (text: string) => string, max: number): string {
  return scrub(text)
    .replace(/\p{Cc}+/gu, ' ')
    .trim()
    .slice(0, max);
}

/**
 * A plain copy of a transport error to attach as a cause: name, code, and the message and stack
 * scrubbed (of credentials, tokens, numbers), nothing else of the original (which may hold the
 * request) attached.
 */
export function safeCopy(error: unknown, scrub: (text: string) => string, max: number): Error {
  const source = error instanceof Error ? error : new Error(String(error));
  const copy = new Error(excerptOf(source.message, scrub, max));
  copy.name = source.name;
  copy.stack = source.stack === undefined ? undefined : scrub(source.stack);
  const code = (source as { code?: unknown }).code;
  if (typeof code === 'string') Object.assign(copy, { code });
  return copy;
}

/**
 * The connection pool of a provider client: time and size bounds on every answer, short keep-alive
 * (providers drop idle connections), no redirects (undici follows none without an interceptor).
 */
export function providerPool(origin: string, limits: TransportLimits, keepAliveMs = 4_000): Pool {
  return new Pool(origin, {
    connectTimeout: limits.connectTimeoutMs,
    headersTimeout: limits.timeoutMs,
    bodyTimeout: limits.timeoutMs,
    maxResponseSize: limits.maxResponseBytes,
    keepAliveTimeout: keepAliveMs,
    // A server's Keep-Alive hint may shorten the idle time, never lengthen it past ours.
    keepAliveMaxTimeout: keepAliveMs,
  });
}

/** Where a client's calls go: reads (status, balance, sign-in) and recharges, each its own pool. */
export interface ProviderPools {
  readonly read: Pool;
  readonly recharge: Pool;
  /**
   * Recharges open a fresh connection each (`Connection: close`): a kept-alive socket the provider
   * closes just as a recharge is written fails after sending, which makes that order ambiguous
   * (pending, or manual review without a status API) for nothing.
   */
  readonly freshRecharge: boolean;
  close(): Promise<void>;
}

/**
 * Recharges never share a pool with reads, so a recharge is never written on a socket a read left
 * idle. `rechargeKeepAliveMs` 0: every recharge closes its connection after the answer, so its pool
 * never holds an idle one. Above 0: idle recharge connections live at most that long (less if the
 * provider's Keep-Alive hint says so, minus undici's 2 s margin), trading a handshake per recharge
 * for a rare ambiguous order when the provider drops a connection at the moment it is reused.
 */
export function providerPools(
  origin: string,
  limits: TransportLimits,
  rechargeKeepAliveMs: number,
): ProviderPools {
  const read = providerPool(origin, limits);
  const freshRecharge = rechargeKeepAliveMs <= 0;
  const recharge = freshRecharge
    ? providerPool(origin, limits)
    : providerPool(origin, limits, rechargeKeepAliveMs);
  return {
    read,
    recharge,
    freshRecharge,
    close: async () => {
      await Promise.all([read.close(), recharge.close()]);
    },
  };
}

/** `<provider> <operation> (order …, number …): <detail>; <consequence>`: one line an operator can act on. */
export function failureMessage(
  provider: string,
  operation: string,
  subject: readonly (string | undefined)[],
  detail: string,
  consequence: string,
): string {
  const about = subject.filter(Boolean).join(', ');
  return `${provider} ${operation}${about ? ` (${about})` : ''}: ${detail}; ${consequence}`;
}
