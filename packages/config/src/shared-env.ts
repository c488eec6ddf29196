import { z } from 'zod';
import { logLevel, onOff, positiveInt, redisUrl, secondsList } from './env.ts';

/** Variables every long-running part reads: where Redis and the ledger are, and log level. */
export const storageEnvShape = {
  /** Redis for queues (and for the ledger when MONGO_URL is unset). Must have maxmemory-policy noeviction. */
  REDIS_URL: redisUrl(),
  /** MongoDB connection string for the ledger; unset: the ledger lives in Redis. */
  MONGO_URL: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z
      .string()
      .regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://')
      .optional(),
  ),
  /** Key prefix of BullMQ queues (separate systems on one Redis use different prefixes). */
  QUEUE_PREFIX: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,40}$/, 'must be 1-40 letters, digits, _ . -')
      .default('rf'),
  ),
  /** Key prefix of the Redis ledger. */
  LEDGER_PREFIX: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,40}$/, 'must be 1-40 letters, digits, _ . : -')
      .default('rf:ledger'),
  ),
  /**
   * Start with the ledger on a Redis that keeps no append-only file (appendonly no). Off: such a
   * part refuses to start, since a Redis restart would lose accepted orders and claims made before
   * a send. On only for tests, benchmarks and throw-away demos (the part still logs a warning).
   */
  ALLOW_LEDGER_WITHOUT_AOF: onOff('off'),
  /** pino level: fatal, error, warn, info, debug, trace, silent. */
  LOG_LEVEL: logLevel(),
  /** Longest a graceful shutdown may take before the process exits anyway. */
  SHUTDOWN_TIMEOUT_MS: positiveInt(30_000, 600_000),
};

/**
 * Bounds of every HTTP listener a part opens (the API's port and each part's METRICS_PORT), so a
 * slow, idle or flooding client holds a bounded share of the process. `listenerLimits` of
 * `@rechargeflow/observability` turns them into the listener's settings.
 */
export const httpListenerEnvShape = {
  /**
   * Longest time to receive a whole request, headers and body (408 after it, connection closed);
   * also how long a connection may stay silent mid-request or mid-response. A CSV batch upload must
   * arrive within it: raise it with BATCH_MAX_BYTES for large files over slow links.
   */
  HTTP_REQUEST_TIMEOUT_MS: positiveInt(120_000, 3_600_000),
  /**
   * Longest time to receive the request line and headers (408 after it); a new connection that
   * sends nothing is closed after it. Capped at HTTP_REQUEST_TIMEOUT_MS.
   */
  HTTP_HEADERS_TIMEOUT_MS: positiveInt(10_000, 600_000),
  /**
   * How long a kept-alive connection may sit idle between requests before it is closed. Keep it
   * above the idle timeout of the proxy or load balancer in front (60 s on most), so the proxy
   * closes first and never sends a request on a connection being closed.
   */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: positiveInt(72_000, 600_000),
  /** Connections one listener holds open at once; one more is closed as soon as it is accepted. */
  HTTP_MAX_CONNECTIONS: positiveInt(1_000, 1_000_000),
};

/** The A1Topup provider: where it is and how to sign in. */
export const a1topupEnvShape = {
  /** Base URL of the A1Topup API (paths /recharge/api, /recharge/status, /recharge/balance). Default: the simulator on this machine. */
  A1TOPUP_BASE_URL: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z.url({ error: 'must be a URL such as https://business.a1topup.com' }).default('http://127.0.0.1:4010'),
  ),
  /** A1Topup account user name. */
  A1TOPUP_USERNAME: z
    .string({ error: 'is required (the A1Topup account user name)' })
    .min(1, 'is required (the A1Topup account user name)'),
  /** A1Topup account password; sent only in POST bodies, never logged. */
  A1TOPUP_PASSWORD: z
    .string({ error: 'is required (the A1Topup account password)' })
    .min(1, 'is required (the A1Topup account password)'),
  /** Answer format asked of A1Topup: json, csv or xml. */
  A1TOPUP_FORMAT: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z.enum(['json', 'csv', 'xml'], { error: 'must be json, csv or xml' }).default('json'),
  ),
  /** Total time a provider call may take; after it the outcome is ambiguous (pending). */
  PROVIDER_TIMEOUT_MS: positiveInt(20_000, 300_000),
  /** Time to establish the connection; failing here proves the request was not sent. */
  PROVIDER_CONNECT_TIMEOUT_MS: positiveInt(5_000, 60_000),
  /** Largest provider answer read; a larger one is ambiguous. */
  PROVIDER_MAX_RESPONSE_BYTES: positiveInt(65_536, 10_485_760),
};

/** The status poller's schedule; the worker reads its first step to schedule a new pending order. */
export const statusPollEnvShape = {
  /** Seconds between status checks of a pending order, comma-separated; the last repeats. */
  STATUS_POLL_SCHEDULE: secondsList('30,60,120,300,600,1800,3600'),
};
