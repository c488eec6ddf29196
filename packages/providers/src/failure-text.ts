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
export function providerPool(origin: string, limits: TransportLimits): Pool {
  return new Pool(origin, {
    connectTimeout: limits.connectTimeoutMs,
    headersTimeout: limits.timeoutMs,
    bodyTimeout: limits.timeoutMs,
    maxResponseSize: limits.maxResponseBytes,
    keepAliveTimeout: 4_000,
  });
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
