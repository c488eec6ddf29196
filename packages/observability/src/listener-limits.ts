import type { Server } from 'node:http';

/**
 * Bounds of one HTTP listener (the API, each part's /metrics): how long a client may take and how
 * many connections it may hold, so a slow, idle or flooding client costs a bounded amount.
 */
export interface ListenerLimits {
  /**
   * A whole request, headers and body, must arrive within it (408 after it, connection closed).
   * Also the longest a connection may stay silent while a request or response is under way.
   */
  readonly requestTimeoutMs: number;
  /**
   * The request line and headers must arrive within it (408 after it); a new connection that sends
   * nothing is closed after it. Never longer than `requestTimeoutMs`.
   */
  readonly headersTimeoutMs: number;
  /** A kept-alive connection idle for this long between requests is closed. */
  readonly keepAliveTimeoutMs: number;
  /** Connections open at once; one more is closed as soon as it is accepted. */
  readonly maxConnections: number;
}

/** The limits from the parsed `HTTP_*` variables (`httpListenerEnvShape` of `@rechargeflow/config`). */
export function listenerLimits(env: {
  readonly HTTP_REQUEST_TIMEOUT_MS: number;
  readonly HTTP_HEADERS_TIMEOUT_MS: number;
  readonly HTTP_KEEP_ALIVE_TIMEOUT_MS: number;
  readonly HTTP_MAX_CONNECTIONS: number;
}): ListenerLimits {
  return {
    requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS,
    headersTimeoutMs: env.HTTP_HEADERS_TIMEOUT_MS,
    keepAliveTimeoutMs: env.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    maxConnections: env.HTTP_MAX_CONNECTIONS,
  };
}

/** How often a refused connection is logged at most. */
const DROP_LOG_INTERVAL_MS = 60_000;

/**
 * Applies `limits` to a Node HTTP server that is not listening yet. Node enforces the request and
 * headers timeouts by sweeping its connections on an interval (30 s by default, which would let a
 * request overrun its timeout by that much): the interval is set to a quarter of the headers
 * timeout, between 50 ms and 1 s. Connections past the cap are closed by Node as they arrive;
 * `log` hears about them at most once a minute, with how many there were.
 */
export function applyListenerLimits(
  server: Server,
  limits: ListenerLimits,
  log?: { warn(facts: object, message: string): void },
): void {
  const headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  server.requestTimeout = limits.requestTimeoutMs;
  server.headersTimeout = headersTimeout;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  // A createServer option in Node's types; as a property it is read when the server starts listening.
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.min(
    1_000,
    Math.max(50, Math.floor(headersTimeout / 4)),
  );
  server.maxConnections = limits.maxConnections;
  // A socket silent this long (a client that stopped sending, or stopped reading our answer) is closed.
  server.setTimeout(limits.requestTimeoutMs);
  if (log) {
    let dropped = 0;
    let loggedAt = 0;
    server.on('drop', () => {
      dropped += 1;
      const now = Date.now();
      if (now - loggedAt < DROP_LOG_INTERVAL_MS) return;
      log.warn(
        { refused: dropped, maxConnections: limits.maxConnections },
        'connection cap reached: new connections are closed (HTTP_MAX_CONNECTIONS)',
      );
      loggedAt = now;
      dropped = 0;
    });
  }
}
