import type { Server } from 'node:http';
import { ConfigError } from '@rechargeflow/config';
import { openLedger } from '@rechargeflow/ledger';
import {
  createLogger,
  createMetrics,
  installShutdown,
  startMetricsServer,
} from '@rechargeflow/observability';
import { requeueStranded } from '@rechargeflow/orders';
import { assertNoEviction, createRedisConnection, JobProducer, waitForRedis } from '@rechargeflow/queue';
import { loadPollerConfig } from './config.ts';

/**
 * The poller. Today it runs the recovery sweep (orders left `queued` without a runnable job);
 * status polling of pending orders on STATUS_POLL_SCHEDULE is the next step (issue 3).
 */
async function main(): Promise<void> {
  const config = loadPollerConfig(process.env);
  const logger = createLogger({ name: 'poller', level: config.LOG_LEVEL });
  const metrics = createMetrics('poller');
  const redis = createRedisConnection(config.REDIS_URL, 'producer', 'poller');
  redis.on('error', (error) => logger.warn({ err: error.message }, 'queue Redis connection error'));
  await waitForRedis(redis, 10_000);
  await assertNoEviction(redis);
  const ledger = await openLedger({
    redisUrl: config.REDIS_URL,
    mongoUrl: config.MONGO_URL,
    redisPrefix: config.LEDGER_PREFIX,
    appName: 'poller',
  });
  const producer = new JobProducer(redis, { prefix: config.QUEUE_PREFIX });
  const deps = { ledger: ledger.store, producer, log: logger };

  let running: Promise<unknown> = Promise.resolve();
  const tick = () => {
    running = requeueStranded(deps, { olderThanMs: config.STRANDED_AFTER_MS, limit: 1_000 })
      .then((summary) => {
        if (summary.examined > 0) logger.info(summary, 'recovery sweep');
      })
      .catch((error: unknown) => logger.warn({ err: String(error) }, 'recovery sweep failed'));
  };
  tick();
  const timer = setInterval(tick, config.SWEEP_INTERVAL_MS);

  let metricsServer: Server | undefined;
  if (config.METRICS_PORT > 0)
    metricsServer = await startMetricsServer(metrics.registry, config.METRICS_PORT);

  installShutdown({
    logger,
    deadlineMs: config.SHUTDOWN_TIMEOUT_MS,
    steps: [
      {
        name: 'stop sweeping',
        run: async () => {
          clearInterval(timer);
          await running;
        },
      },
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
      sweepIntervalMs: config.SWEEP_INTERVAL_MS,
      statusPollSchedule: config.STATUS_POLL_SCHEDULE,
      ledger: ledger.kind,
    },
    'poller running (recovery sweep; status polling arrives with the status poller)',
  );
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(
    `poller: failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
