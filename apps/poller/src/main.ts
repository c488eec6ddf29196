import type { Server } from 'node:http';
import { configuredSecrets, statusCheckTimes } from '@rechargeflow/config';
import { RETENTION_EVERY_MS, retentionJob } from '@rechargeflow/ledger';
import {
  createLogger,
  createMetrics,
  installShutdown,
  jobMetrics,
  listenerLimits,
  metricsEvents,
  registerSystemGauges,
  retentionMetrics,
  startMetricsServer,
} from '@rechargeflow/observability';
import { applyCallback, requeueStranded, runStatusChecks, sweepStuckProcessing } from '@rechargeflow/orders';
import { createConfiguredProviders, providerRegistry } from '@rechargeflow/providers';
import { batchJobId, callbackJobId, createJobConsumer, readQueueStats } from '@rechargeflow/queue';
import { createRedisCircuitBreaker } from '@rechargeflow/routing';
import {
  closeServer,
  openStorage,
  readRedisMemoryByRole,
  runPart,
  storageShutdownSteps,
} from '@rechargeflow/runtime';
import { requeueStrandedDeliveries } from '@rechargeflow/webhooks';
import { loadPollerConfig } from './config.ts';

/**
 * The poller settles what the workers could not: it asks the provider's status API about pending
 * orders on the STATUS_POLL_SCHEDULE back-off, applies stored provider callbacks, samples provider
 * balances, and recovers orders left stranded (queued without a job, stuck in processing). Several
 * replicas are safe: one BullMQ job scheduler drives the sweeps, and every claim is atomic.
 */
async function main(): Promise<void> {
  const config = loadPollerConfig(process.env);
  const logger = createLogger({
    name: 'poller',
    level: config.LOG_LEVEL,
    secrets: configuredSecrets(process.env),
  });
  const metrics = createMetrics('poller');
  const storage = await openStorage(config, 'poller', 'worker', logger);
  const { redis, ledger, producer } = storage;
  const checkTimes = statusCheckTimes(config);
  const providers = createConfiguredProviders(config, redis, config.QUEUE_PREFIX);
  const deps = {
    ledger: ledger.store,
    producer,
    providers,
    // Stored callbacks' statuses are read as their provider's module says.
    providerCatalog: providerRegistry,
    log: logger,
    events: metricsEvents(metrics),
    firstCheckAfterMs: checkTimes.firstCheckAfterMs,
  };
  let stopping = false;
  const statusSettings = {
    intervalsMs: checkTimes.intervalsMs,
    batch: config.STATUS_CHECK_BATCH,
    concurrency: config.STATUS_CHECK_CONCURRENCY,
    budgetMs: config.STATUS_SWEEP_BUDGET_MS,
    // A sweep stops claiming once shutdown begins, so the drain fits in SHUTDOWN_TIMEOUT_MS.
    shouldStop: () => stopping,
    notFoundGraceMs: config.NOT_FOUND_GRACE,
    notFoundAfterGrace: config.NOT_FOUND_AFTER_GRACE,
    maxPendingAgeMs: config.PENDING_MAX_AGE,
  };

  const sweep = async () => {
    const checks = await runStatusChecks(deps, statusSettings);
    // Paged to the end of each backlog, within the sweep budget; the next sweep starts again.
    const budgetMs = Math.max(config.STATUS_SWEEP_BUDGET_MS, 1_000);
    const stranded = await requeueStranded(deps, {
      olderThanMs: config.STRANDED_AFTER_MS,
      limit: 500,
      budgetMs,
    });
    const stuck = await sweepStuckProcessing(deps, {
      olderThanMs: config.PROCESSING_STUCK_AFTER_MS,
      limit: 500,
      budgetMs,
    });
    // The ledger's clock, like every other age here.
    const ledgerNow = (await ledger.store.clock()).getTime();
    const unhandled = await ledger.store.findCallbacks(
      'received',
      new Date(ledgerNow - 60_000).toISOString(),
      1_000,
    );
    for (const callback of unhandled) {
      await producer.ensureQueued('callback.apply', { callbackId: callback.id }, callbackJobId(callback.id));
    }
    // Batches stored but never imported (API died after the 202), or whose import stopped.
    const cutoff = new Date(ledgerNow - config.STRANDED_AFTER_MS).toISOString();
    const batches = [
      ...(await ledger.store.findBatches('stored', cutoff, 100)),
      ...(await ledger.store.findBatches('importing', cutoff, 100)),
    ];
    for (const batch of batches) {
      await producer.ensureQueued(
        'batch.import',
        { clientId: batch.clientId, batchId: batch.batchId },
        batchJobId(batch.batchId),
      );
    }
    // Imports and releases are the importer's (WORKER_QUEUES=batches): a deployment that runs only
    // workers accepts uploads that are never imported, or never handed to the queue past the first
    // chunks. Said here, where waiting batches and unreleased orders are seen.
    // CLIENT LIST may be refused (an ACL): then nothing is known and nothing said.
    const importers =
      batches.length > 0 || stranded.awaitingRelease > 0
        ? await producer
            .queue('batches')
            .getWorkersCount()
            .catch(() => null)
        : null;
    if (importers === 0) {
      logger.warn(
        { batches: batches.length, ordersAwaitingRelease: stranded.awaitingRelease },
        'CSV batches wait and no process consumes the batches queue: start an importer (npm run start:importer, or a worker with WORKER_QUEUES including batches)',
      );
    }
    // Uploads whose lease ran out (an API died mid-upload): removed with their client's count.
    let uploadsSwept = 0;
    for (let round = 0; round < 20; round += 1) {
      const removed = await ledger.store.sweepUploads(500);
      uploadsSwept += removed;
      if (removed < 500) break;
    }
    // Webhook deliveries left pending without a job (theirs ended failed): queued again.
    const deliveries = await requeueStrandedDeliveries(
      { store: ledger.store, producer, log: logger },
      { limit: 500, budgetMs },
    );
    const worked =
      checks.checked +
      stranded.examined +
      stuck.toPending +
      stuck.requeued +
      unhandled.length +
      uploadsSwept +
      deliveries.added +
      deliveries.retried;
    if (worked > 0)
      logger.info(
        { ...checks, stranded, stuck, callbacksRequeued: unhandled.length, uploadsSwept, deliveries },
        'sweep',
      );
  };

  const sampleBalances = async () => {
    for (const provider of providers.values()) {
      if (!provider.supports.balance) continue;
      try {
        const { balance } = await provider.getBalance();
        await ledger.store.recordBalance({ provider: provider.name, balance, at: new Date().toISOString() });
      } catch (error) {
        logger.warn({ provider: provider.name, err: String(error) }, 'balance sample failed');
      }
    }
  };

  // The system-wide gauges (queues, backlog, balances, breakers, Redis memory) are exported by the
  // poller, which every installation runs; with several pollers the dashboards take max() across them.
  const breaker = createRedisCircuitBreaker({ redis, prefix: config.QUEUE_PREFIX });
  registerSystemGauges(
    metrics,
    {
      queues: () => readQueueStats(producer, config.PROVIDERS),
      // Each Redis's memory (INFO): the alerts warn before maxmemory refuses writes.
      redisMemory: () => readRedisMemoryByRole(storage),
      ordersIn: (state) => ledger.store.countInState(state),
      balances: async () => {
        const now = new Date().toISOString();
        const samples = await Promise.all(
          config.PROVIDERS.map(async (provider) => ({
            provider,
            sample: await ledger.store.balanceAt(provider, now),
          })),
        );
        return samples.flatMap(({ provider, sample }) =>
          sample ? [{ provider, rupees: sample.balance / 100 }] : [],
        );
      },
      breakers: () =>
        Promise.all(
          config.PROVIDERS.map(async (provider) => ({
            provider,
            state: (await breaker.snapshot(provider)).state,
          })),
        ),
    },
    (source, error) => logger.warn({ source, err: String(error) }, 'metrics source failed'),
  );
  const observer = jobMetrics(metrics);

  // Retention archives the Redis ledger only (MongoDB keeps every order), and never without an archive.
  const archiveDir = config.LEDGER_ARCHIVE_DIR;
  const retentionOff =
    ledger.kind !== 'redis'
      ? 'the MongoDB ledger keeps every order'
      : config.LEDGER_RETENTION === 0
        ? 'LEDGER_RETENTION=0'
        : archiveDir === undefined
          ? 'LEDGER_ARCHIVE_DIR is unset'
          : undefined;
  const retentionCounts = retentionMetrics(metrics);
  const retention =
    archiveDir === undefined || retentionOff !== undefined
      ? undefined
      : retentionJob(ledger.store, {
          dir: archiveDir,
          retentionMs: config.LEDGER_RETENTION,
          onArchived: retentionCounts.archived,
          onDone: (report) => {
            retentionCounts.run(report.skipped === undefined ? 'ok' : 'skipped');
            if (report.written > 0 || report.skipped !== undefined) logger.info(report, 'ledger retention');
          },
          onError: (error) => {
            retentionCounts.run('failed');
            logger.error({ err: String(error) }, 'ledger retention run failed; the next run resumes');
          },
        });

  const onFailed = (jobId: string | undefined, error: Error) =>
    logger.warn({ jobId, err: error.message }, 'poller job attempt failed');
  const onError = (error: Error) => logger.error({ err: error.message }, 'poller worker error');
  const pollerWorker = createJobConsumer(
    'poller',
    {
      'poller.sweep': sweep,
      'poller.balance': sampleBalances,
      // Starts a run in the background (it would hold up the sweeps); a poller with retention off
      // leaves a scheduled run of another configuration alone.
      'ledger.retention': async () => retention?.trigger(),
    },
    redis,
    { prefix: config.QUEUE_PREFIX, concurrency: 1, observer, onFailed, onError },
  );
  const callbackWorker = createJobConsumer(
    'callbacks',
    {
      'callback.apply': async ({ callbackId }) => {
        await applyCallback(deps, callbackId, {
          verifyReversals: config.VERIFY_REVERSALS,
          verifyCallbacks: config.VERIFY_CALLBACKS,
          confirmWindowMs: config.REVERSAL_CONFIRM_WINDOW,
        });
      },
    },
    redis,
    { prefix: config.QUEUE_PREFIX, concurrency: config.CALLBACK_CONCURRENCY, observer, onFailed, onError },
  );
  await producer.schedule('poller.sweep', config.SWEEP_INTERVAL_MS);
  await producer.schedule('poller.balance', config.BALANCE_SAMPLE_INTERVAL_MS);
  if (retention !== undefined) await producer.schedule('ledger.retention', RETENTION_EVERY_MS);

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
      {
        name: 'drain poller jobs',
        run: () => {
          stopping = true;
          return pollerWorker.close();
        },
      },
      { name: 'drain callback jobs', run: () => callbackWorker.close() },
      { name: 'stop ledger retention', run: async () => retention?.stop() },
      { name: 'close providers', run: () => Promise.all([...providers.values()].map((p) => p.close())) },
      ...storageShutdownSteps(storage),
      { name: 'close metrics', run: () => closeServer(metricsServer) },
    ],
  });
  logger.info(
    {
      sweepIntervalMs: config.SWEEP_INTERVAL_MS,
      statusPollSchedule: config.STATUS_POLL_SCHEDULE,
      pendingMaxAgeMs: config.PENDING_MAX_AGE,
      verifyReversals: config.VERIFY_REVERSALS,
      verifyCallbacks: config.VERIFY_CALLBACKS,
      reversalConfirmWindowMs: config.REVERSAL_CONFIRM_WINDOW,
      ledger: ledger.kind,
      retention:
        retentionOff === undefined
          ? { retentionMs: config.LEDGER_RETENTION, archiveDir }
          : `off: ${retentionOff}`,
    },
    'poller running',
  );
}

runPart('poller', main);
