import type { Server } from 'node:http';
import { ConfigError } from '@rechargeflow/config';
import { openLedger } from '@rechargeflow/ledger';
import {
  createLogger,
  createMetrics,
  installShutdown,
  metricsEvents,
  startMetricsServer,
} from '@rechargeflow/observability';
import { processRecharge, requeueStranded } from '@rechargeflow/orders';
import { createA1TopupProvider, type RechargeProvider } from '@rechargeflow/providers';
import {
  assertNoEviction,
  createJobConsumer,
  createRedisConnection,
  JobProducer,
  waitForRedis,
} from '@rechargeflow/queue';
import { loadWorkerConfig } from './config.ts';

async function main(): Promise<void> {
  const config = loadWorkerConfig(process.env);
  const logger = createLogger({ name: 'worker', level: config.LOG_LEVEL });
  const metrics = createMetrics('worker');

  const redis = createRedisConnection(config.REDIS_URL, 'worker', 'worker');
  redis.on('error', (error) => logger.warn({ err: error.message }, 'queue Redis connection error'));
  await waitForRedis(redis, 10_000);
  await assertNoEviction(redis);
  const ledger = await openLedger({
    redisUrl: config.REDIS_URL,
    mongoUrl: config.MONGO_URL,
    redisPrefix: config.LEDGER_PREFIX,
    appName: 'worker',
  });
  const a1topup = createA1TopupProvider({
    baseUrl: config.A1TOPUP_BASE_URL,
    username: config.A1TOPUP_USERNAME,
    password: config.A1TOPUP_PASSWORD,
    format: config.A1TOPUP_FORMAT,
    timeoutMs: config.PROVIDER_TIMEOUT_MS,
    connectTimeoutMs: config.PROVIDER_CONNECT_TIMEOUT_MS,
    maxResponseBytes: config.PROVIDER_MAX_RESPONSE_BYTES,
  });
  const providers = new Map<string, RechargeProvider>([[a1topup.name, a1topup]]);
  const producer = new JobProducer(redis, { prefix: config.QUEUE_PREFIX });
  const deps = {
    ledger: ledger.store,
    producer,
    providers,
    log: logger,
    events: metricsEvents(metrics),
    firstCheckAfterMs: (config.STATUS_POLL_SCHEDULE[0] ?? 30) * 1000,
  };

  const worker = createJobConsumer(
    'recharges',
    {
      recharge: async (key, run) => {
        const outcome = await processRecharge(deps, key, run);
        logger.info(
          {
            clientId: key.clientId,
            orderId: key.orderId,
            outcome: outcome.kind,
            state: 'order' in outcome ? outcome.order.state : outcome.state,
          },
          'recharge job done',
        );
      },
    },
    redis,
    {
      prefix: config.QUEUE_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      lockDurationMs: config.WORKER_LOCK_MS,
      onError: (error) => logger.error({ err: error.message }, 'worker error'),
      onFailed: (jobId, error) => logger.warn({ jobId, err: error.message }, 'recharge job attempt failed'),
    },
  );

  // Orders whose job was lost between the ledger write and the enqueue are picked up here too,
  // so a system with no poller running still loses nothing.
  const sweep = await requeueStranded(deps, { olderThanMs: 30_000, limit: 1_000 }).catch((error: unknown) => {
    logger.warn({ err: String(error) }, 'start-up recovery sweep failed');
    return null;
  });
  if (sweep) logger.info(sweep, 'start-up recovery sweep done');

  let metricsServer: Server | undefined;
  if (config.METRICS_PORT > 0)
    metricsServer = await startMetricsServer(metrics.registry, config.METRICS_PORT);

  installShutdown({
    logger,
    deadlineMs: config.SHUTDOWN_TIMEOUT_MS,
    steps: [
      // worker.close() stops taking jobs and waits for the in-flight ones to finish.
      { name: 'drain worker', run: () => worker.close() },
      { name: 'close providers', run: () => Promise.all([...providers.values()].map((p) => p.close())) },
      { name: 'close queue producer', run: () => producer.close() },
      { name: 'close ledger', run: () => ledger.close() },
      { name: 'close Redis', run: () => redis.quit() },
      {
        name: 'close metrics',
        run: () =>
          new Promise((resolve) => (metricsServer ? metricsServer.close(resolve) : resolve(undefined))),
      },
    ],
  });
  logger.info(
    {
      concurrency: config.WORKER_CONCURRENCY,
      ledger: ledger.kind,
      a1topup: new URL(config.A1TOPUP_BASE_URL).origin,
    },
    'recharge worker running',
  );
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(
    `worker: failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
