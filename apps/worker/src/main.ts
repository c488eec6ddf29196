import type { Server } from 'node:http';
import { importBatch, queueRelease, releaseBatch } from '@rechargeflow/batches';
import { configuredSecrets, statusCheckTimes } from '@rechargeflow/config';
import {
  batchReleaseMetrics,
  batchRowMetrics,
  createLogger,
  createMetrics,
  installShutdown,
  jobMetrics,
  listenerLimits,
  metricsEvents,
  startMetricsServer,
  webhookMetrics,
} from '@rechargeflow/observability';
import { processRecharge, requeueStranded } from '@rechargeflow/orders';
import { createConfiguredProviders, providerRegistry, type RechargeProvider } from '@rechargeflow/providers';
import { createJobConsumer } from '@rechargeflow/queue';
import {
  cachedBreaker,
  createProviderGate,
  createRedisCircuitBreaker,
  loadRoutingTable,
  routeFor,
} from '@rechargeflow/routing';
import {
  closeServer,
  openStorage,
  runPart,
  storageShutdownSteps,
  workerProcessOf,
} from '@rechargeflow/runtime';
import { announceAfterImport, startWebhookWorker, type WebhookWorker } from '@rechargeflow/webhooks';
import { loadWorkerConfig } from './config.ts';

async function main(): Promise<void> {
  const config = loadWorkerConfig(process.env);
  // The importer says so in its logs, metrics and Redis client names; any other mix is a worker.
  const part = workerProcessOf(config.WORKER_QUEUES) ?? 'worker';
  const logger = createLogger({
    name: part,
    level: config.LOG_LEVEL,
    secrets: configuredSecrets(process.env),
  });
  const metrics = createMetrics(part);

  const storage = await openStorage(config, part, 'worker', logger);
  const { redis, ledger, producer } = storage;
  // WORKER_QUEUES: this process's share of the work (the worker, the importer, or all of it).
  const queues = new Set(config.WORKER_QUEUES);
  const providers = queues.has('recharges')
    ? createConfiguredProviders(config, redis, config.QUEUE_PREFIX)
    : new Map<string, RechargeProvider>();
  // The hot path spares Redis the healthy case: a closed breaker is believed for up to 1 s and a balance
  // (sampled by the poller every few minutes) for 5 s; failures and probes always go to Redis.
  const breaker = cachedBreaker(
    createRedisCircuitBreaker({
      redis,
      prefix: config.QUEUE_PREFIX,
      failureThreshold: config.BREAKER_FAILURE_THRESHOLD,
      openMs: config.BREAKER_OPEN_MS,
    }),
    // Well under the open period, so every process's cached "closed" ends before the one probe.
    Math.max(1, Math.min(1_000, Math.floor(config.BREAKER_OPEN_MS / 2))),
  );
  const gate = createProviderGate({
    breaker,
    balanceOf: async (provider) =>
      (await ledger.store.balanceAt(provider, new Date().toISOString()))?.balance ?? null,
    balanceCacheMs: 5_000,
    // Never reroute or fail over to a provider whose queue no worker here consumes.
    enabled: config.PROVIDERS,
  });
  const deps = {
    ledger: ledger.store,
    producer,
    providers,
    gate,
    log: logger,
    events: metricsEvents(metrics),
    firstCheckAfterMs: statusCheckTimes(config).firstCheckAfterMs,
    orderMaxWaitMs: config.ORDER_MAX_WAIT,
  };

  // Each provider's <P>_CONCURRENCY and <P>_RATE_PER_SECOND, as its module reads them.
  const limits = providerRegistry.workerLimits(config);
  // One BullMQ worker per provider queue: each provider gets its own concurrency and rate limit.
  const workers: ReturnType<typeof createJobConsumer>[] = [...providers.keys()].map((provider) => {
    const limit = limits.get(provider) ?? { concurrency: 10, ratePerSecond: 0 };
    return createJobConsumer(
      'recharges',
      {
        recharge: async (key, run) => {
          const outcome = await processRecharge(deps, key, run);
          const state = 'order' in outcome ? outcome.order.state : outcome.state;
          // A plain success is debug (the ledger holds the history); anything else stays at info.
          logger[state === 'success' ? 'debug' : 'info'](
            {
              clientId: key.clientId,
              orderId: key.orderId,
              provider,
              outcome: outcome.kind,
              state,
            },
            'recharge job done',
          );
        },
      },
      redis,
      {
        prefix: config.QUEUE_PREFIX,
        partition: provider,
        concurrency: limit.concurrency,
        lockDurationMs: config.WORKER_LOCK_MS,
        observer: jobMetrics(metrics),
        limiter: limit.ratePerSecond > 0 ? { max: limit.ratePerSecond, durationMs: 1_000 } : undefined,
        onError: (error) => logger.error({ err: error.message, provider }, 'worker error'),
        onFailed: (jobId, error) =>
          logger.warn({ jobId, provider, err: error.message }, 'recharge job attempt failed'),
      },
    );
  });
  // Webhooks: the outbox dispatcher, and with WEBHOOK_SIGNING_SECRET the consumer that sends.
  const webhooks: WebhookWorker | undefined = !queues.has('webhooks')
    ? undefined
    : startWebhookWorker(
        {
          redis,
          store: ledger.store,
          producer,
          log: logger,
          observer: webhookMetrics(metrics),
          jobObserver: jobMetrics(metrics),
        },
        {
          signingKey: config.WEBHOOK_SIGNING_SECRET,
          allowPrivate: config.WEBHOOK_ALLOW_PRIVATE,
          retryForMs: config.WEBHOOK_RETRY_FOR,
          retryFirstMs: config.WEBHOOK_RETRY_FIRST_MS,
          timeoutMs: config.WEBHOOK_TIMEOUT_MS,
          concurrency: config.WEBHOOK_CONCURRENCY,
          prefix: config.QUEUE_PREFIX,
        },
      );
  if (webhooks?.consumer) workers.push(webhooks.consumer);
  // CSV batches: one import job per batch; it resumes after its last committed chunk if restarted.
  const routing = loadRoutingTable(
    { env: config.ROUTING_TABLE, file: config.ROUTING_TABLE_FILE },
    config.PROVIDERS,
  );
  // batch.completed of a batch all of whose orders were final before its import ended (or that has
  // none), from whichever process imports it, webhook side or not.
  const announcer = { store: ledger.store, producer, log: logger, observer: webhookMetrics(metrics) };
  const released = batchReleaseMetrics(metrics);
  if (queues.has('batches')) {
    workers.push(
      createJobConsumer(
        'batches',
        {
          'batch.import': async (key) => {
            const result = await importBatch(
              {
                ledger: ledger.store,
                producer,
                log: logger,
                routeFor: (request) => routeFor(routing, request),
                onRowsCommitted: batchRowMetrics(metrics),
                onRowsReleased: released,
              },
              key,
              {
                chunkRows: config.BATCH_CHUNK_ROWS,
                maxRowBytes: config.BATCH_MAX_ROW_BYTES,
                releaseBacklog: config.BATCH_RELEASE_BACKLOG,
              },
            );
            logger.info({ ...key, result }, 'batch import done');
            // The orders the import left in the ledger (the queues were full) go to the queue as
            // it drains. Not a reason to fail the import (its batch.completed still to announce):
            // the stranded sweep queues the release too.
            await queueRelease({ ledger: ledger.store, producer }, key).catch((error: unknown) =>
              logger.warn({ ...key, err: String(error) }, 'batch release not queued; the sweep will'),
            );
            await announceAfterImport(announcer, key);
          },
          'batch.release': async (key) => {
            const result = await releaseBatch(
              { ledger: ledger.store, producer, log: logger, onRowsReleased: released },
              key,
              { backlog: config.BATCH_RELEASE_BACKLOG, providers: config.PROVIDERS },
            );
            logger.info({ ...key, result }, 'batch released');
          },
        },
        redis,
        {
          prefix: config.QUEUE_PREFIX,
          concurrency: config.BATCH_IMPORT_CONCURRENCY,
          lockDurationMs: 60_000,
          observer: jobMetrics(metrics),
          onError: (error) => logger.error({ err: error.message }, 'importer error'),
          onFailed: (jobId, error) => logger.warn({ jobId, err: error.message }, 'batch job attempt failed'),
        },
      ),
    );
  }

  // Orders whose job was lost between the ledger write and the enqueue are picked up here too,
  // so a system with no poller running still loses nothing.
  if (queues.has('recharges')) {
    const sweep = await requeueStranded(deps, { olderThanMs: 30_000, limit: 500, budgetMs: 10_000 }).catch(
      (error: unknown) => {
        logger.warn({ err: String(error) }, 'start-up recovery sweep failed');
        return null;
      },
    );
    if (sweep) logger.info(sweep, 'start-up recovery sweep done');
  }

  let metricsServer: Server | undefined;
  if (config.METRICS_PORT > 0)
    metricsServer = await startMetricsServer(
      metrics.registry,
      config.METRICS_PORT,
      config.METRICS_HOST,
      listenerLimits(config),
    );

  installShutdown({
    logger,
    deadlineMs: config.SHUTDOWN_TIMEOUT_MS,
    steps: [
      // worker.close() stops taking jobs and waits for the in-flight ones to finish.
      { name: 'drain workers', run: () => Promise.all(workers.map((w) => w.close())) },
      { name: 'stop webhook dispatcher and sender', run: async () => webhooks?.close() },
      { name: 'close providers', run: () => Promise.all([...providers.values()].map((p) => p.close())) },
      ...storageShutdownSteps(storage),
      { name: 'close metrics', run: () => closeServer(metricsServer) },
    ],
  });
  logger.info(
    {
      queues: config.WORKER_QUEUES,
      providers: Object.fromEntries([...providers.keys()].map((p) => [p, limits.get(p)])),
      ledger: ledger.kind,
    },
    'recharge worker running',
  );
}

runPart('worker', main);
