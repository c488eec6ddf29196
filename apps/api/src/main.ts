import { configuredSecrets } from '@rechargeflow/config';
import { buildApi } from '@rechargeflow/http';
import {
  createLogger,
  createMetrics,
  installShutdown,
  listenerLimits,
  metricsEvents,
  startMetricsServer,
} from '@rechargeflow/observability';
import { createRedisCircuitBreaker, loadRoutingTable, routeFor } from '@rechargeflow/routing';
import { closeServer, openStorage, runPart, storageShutdownSteps } from '@rechargeflow/runtime';
import { loadApiConfig } from './config.ts';

/** A provider's health as the breaker sees it. */
const HEALTH = { closed: 'up', half_open: 'recovering', open: 'down' } as const;

async function main(): Promise<void> {
  const config = loadApiConfig(process.env);
  const logger = createLogger({
    name: 'api',
    level: config.LOG_LEVEL,
    secrets: configuredSecrets(process.env),
  });
  const metrics = createMetrics('api');

  // Producer connections fail fast: a request must not wait on a Redis that is gone.
  const storage = await openStorage(config, 'api', 'producer', logger);
  const { redis: queueRedis, ledger, producer } = storage;
  const routing = loadRoutingTable(
    { env: config.ROUTING_TABLE, file: config.ROUTING_TABLE_FILE },
    config.PROVIDERS,
  );
  const breaker = createRedisCircuitBreaker({
    redis: queueRedis,
    prefix: config.QUEUE_PREFIX,
    failureThreshold: config.BREAKER_FAILURE_THRESHOLD,
    openMs: config.BREAKER_OPEN_MS,
  });
  const app = await buildApi({
    ledger: ledger.store,
    producer,
    logger,
    metrics,
    keys: config.API_KEYS,
    rateLimitPerMinute: config.RATE_LIMIT_PER_MINUTE,
    callbackRateLimitPerMinute: config.CALLBACK_RATE_LIMIT_PER_MINUTE,
    rateLimitRedis: queueRedis,
    rateLimitPrefix: config.QUEUE_PREFIX,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    listenerLimits: listenerLimits(config),
    trustProxy: config.TRUST_PROXY,
    readiness: async () => {
      await ledger.store.ping();
      await queueRedis.ping();
    },
    events: metricsEvents(metrics),
    archiveDir: config.LEDGER_ARCHIVE_DIR,
    callbackTokens: config.CALLBACK_TOKEN,
    batchLimits: {
      maxBytes: config.BATCH_MAX_BYTES,
      maxRows: config.BATCH_MAX_ROWS,
      maxRowBytes: config.BATCH_MAX_ROW_BYTES,
      maxImportingPerClient: config.BATCH_MAX_IMPORTING_PER_CLIENT,
      maxPendingBytesPerClient: config.BATCH_MAX_PENDING_BYTES_PER_CLIENT,
      uploadLeaseMs: config.BATCH_UPLOAD_LEASE_MS,
    },
    providerNames: config.PROVIDERS,
    queueBoard: config.QUEUE_BOARD,
    webhooks: {
      signingKey: config.WEBHOOK_SIGNING_SECRET,
      allowPrivate: config.WEBHOOK_ALLOW_PRIVATE,
      maxEndpointsPerClient: config.WEBHOOK_MAX_ENDPOINTS_PER_CLIENT,
    },
    routeFor: (request) => routeFor(routing, request),
    providersStatus: () =>
      Promise.all(
        config.PROVIDERS.map(async (name) => {
          const [breakerState, balance] = await Promise.all([
            breaker.snapshot(name),
            ledger.store.balanceAt(name, new Date().toISOString()),
          ]);
          return {
            name,
            health: HEALTH[breakerState.state],
            breaker: breakerState,
            balance: balance ? { amount: balance.balance / 100, at: balance.at } : null,
          };
        }),
      ),
  });
  const metricsServer =
    config.METRICS_PORT > 0
      ? await startMetricsServer(
          metrics.registry,
          config.METRICS_PORT,
          config.METRICS_HOST,
          listenerLimits(config),
        )
      : undefined;
  installShutdown({
    logger,
    deadlineMs: config.SHUTDOWN_TIMEOUT_MS,
    steps: [
      { name: 'stop accepting requests', run: () => app.close() },
      ...storageShutdownSteps(storage),
      { name: 'close metrics', run: () => closeServer(metricsServer) },
    ],
  });
  const address = await app.listen({ port: config.PORT, host: config.HOST });
  logger.info(
    { address, ledger: ledger.kind, clients: config.API_KEYS.length, queueBoard: config.QUEUE_BOARD },
    'ingest API listening',
  );
}

runPart('api', main);
