import { z } from 'zod';
import {
  host,
  logLevel,
  onOff,
  optionalRedisUrl,
  port,
  positiveInt,
  type RedisClusterSeeds,
  redisClusterNodes,
  redisUrl,
  secondsList,
  unsetWhenBlank,
} from './env.ts';

/** Variables every long-running part reads: where Redis and the ledger are, and log level. */
export const storageEnvShape = {
  /**
   * The one Redis for both roles below unless they are split: the queue side, and the Redis ledger
   * when MONGO_URL is unset. Must have maxmemory-policy noeviction.
   */
  REDIS_URL: redisUrl(),
  /**
   * The Redis ledger's Redis (when MONGO_URL is unset); unset: REDIS_URL. A single primary holding
   * every order: appendonly yes (appendfsync always recommended) and noeviction, both checked at start.
   */
  LEDGER_REDIS_URL: optionalRedisUrl(),
  /**
   * The queue side's Redis: BullMQ queues, rate limits, circuit breakers, the Telgoo5 token lease;
   * unset: REDIS_URL. Must have noeviction; what it holds the ledger can rebuild, so AOF everysec suffices.
   */
  QUEUE_REDIS_URL: optionalRedisUrl(),
  /**
   * The queue side on a Redis Cluster instead: comma-separated host:port seeds (or redis:// URLs
   * carrying the credentials); when set it replaces QUEUE_REDIS_URL. Each queue's keys share one
   * hash slot, different queues spread over the masters. Every node must have noeviction.
   */
  QUEUE_REDIS_CLUSTER_NODES: redisClusterNodes(),
  /** MongoDB connection string for the ledger; unset: the ledger lives in Redis. */
  MONGO_URL: unsetWhenBlank(
    z
      .string()
      .regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://')
      .optional(),
  ),
  /** Key prefix of BullMQ queues (separate systems on one Redis use different prefixes). */
  QUEUE_PREFIX: unsetWhenBlank(
    z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,40}$/, 'must be 1-40 letters, digits, _ . -')
      .default('rf'),
  ),
  /** Key prefix of the Redis ledger. */
  LEDGER_PREFIX: unsetWhenBlank(
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

/**
 * Each long-running part's own /metrics listener for Prometheus (api, worker, poller), for the
 * internal network only. (The API's public port also serves /metrics, to operator keys only.)
 */
export const metricsEnvShape = {
  /** Port of the part's /metrics listener; 0 (the default) turns it off. */
  METRICS_PORT: port(0),
  /** Interface the metrics listener binds: loopback by default; 0.0.0.0 in a container. */
  METRICS_HOST: host(),
};

/** CSV batch rows: the API refuses longer lines at upload, the worker's import longer rows (quoted line breaks). */
export const batchRowEnvShape = {
  /** Longest CSV row in bytes. */
  BATCH_MAX_ROW_BYTES: positiveInt(1_024, 65_536),
};

/** The status poller's schedule; the worker reads its first step to schedule a new pending order. */
export const statusPollEnvShape = {
  /** Seconds between status checks of a pending order, comma-separated; the last repeats. */
  STATUS_POLL_SCHEDULE: secondsList('30,60,120,300,600,1800,3600'),
};

/**
 * STATUS_POLL_SCHEDULE as the orders code takes it, in milliseconds: the one place the first
 * status-check delay is worked out. `firstCheckAfterMs`: from an order's move into pending to its
 * first check (the schedule's first step); `intervalsMs`: the steps, the last repeating.
 */
export function statusCheckTimes(config: { readonly STATUS_POLL_SCHEDULE: readonly [number, ...number[]] }): {
  readonly firstCheckAfterMs: number;
  readonly intervalsMs: readonly number[];
} {
  const [first, ...rest] = config.STATUS_POLL_SCHEDULE;
  return {
    firstCheckAfterMs: first * 1_000,
    intervalsMs: [first, ...rest].map((seconds) => seconds * 1_000),
  };
}

/**
 * The queue side's Redis: one server (or primary) by URL, or a Redis Cluster by its seeds (the
 * shape `createQueueConnection` of @rechargeflow/queue takes).
 */
type QueueRedisTarget =
  | { readonly kind: 'single'; readonly url: string }
  | { readonly kind: 'cluster'; readonly seeds: RedisClusterSeeds };

/**
 * Which Redis serves which role: the one place LEDGER_REDIS_URL and QUEUE_REDIS_URL fall back on
 * REDIS_URL and QUEUE_REDIS_CLUSTER_NODES replaces QUEUE_REDIS_URL.
 */
export function redisRoles(config: {
  readonly REDIS_URL: string;
  readonly LEDGER_REDIS_URL?: string | undefined;
  readonly QUEUE_REDIS_URL?: string | undefined;
  readonly QUEUE_REDIS_CLUSTER_NODES?: RedisClusterSeeds | undefined;
}): { readonly ledgerUrl: string; readonly queue: QueueRedisTarget } {
  return {
    ledgerUrl: config.LEDGER_REDIS_URL ?? config.REDIS_URL,
    queue: config.QUEUE_REDIS_CLUSTER_NODES
      ? { kind: 'cluster', seeds: config.QUEUE_REDIS_CLUSTER_NODES }
      : { kind: 'single', url: config.QUEUE_REDIS_URL ?? config.REDIS_URL },
  };
}
