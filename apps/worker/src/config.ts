import { DEFAULT_RELEASE_BACKLOG } from '@rechargeflow/batches';
import {
  batchRowEnvShape,
  duration,
  httpListenerEnvShape,
  metricsEnvShape,
  parseEnv,
  positiveInt,
  routingEnvShape,
  someOf,
  statusPollEnvShape,
  storageEnvShape,
  webhookEnvShape,
} from '@rechargeflow/config';
import {
  providerCredentialProblems,
  providerLimitsEnvShape,
  providersEnvShape,
} from '@rechargeflow/providers';
import { WORKER_QUEUES } from '@rechargeflow/runtime';
import { z } from 'zod';

const schema = z.object({
  ...storageEnvShape,
  /**
   * What this process consumes, comma-separated: `recharges` (the queue of every provider in
   * PROVIDERS), `webhooks` (the outbox dispatcher, and deliveries with WEBHOOK_SIGNING_SECRET),
   * `batches` (CSV imports). Default: all three. The project starts two kinds of process with it
   * (WORKER_PROCESSES of @rechargeflow/runtime): the worker (`recharges,webhooks`) and the importer
   * (`batches`, with heap flags).
   */
  WORKER_QUEUES: someOf(WORKER_QUEUES, WORKER_QUEUES),
  // PROVIDERS, the call settings and each provider's variables and worker limits: the registry's.
  ...providersEnvShape,
  ...routingEnvShape,
  ...providerLimitsEnvShape,
  ...statusPollEnvShape,
  ...httpListenerEnvShape,
  ...metricsEnvShape,
  // Signing, retries, timeout and concurrency of webhook deliveries (the outbox dispatcher runs here).
  ...webhookEnvShape,
  /**
   * How long a job's lock lives without renewal; a worker silent for longer counts as stalled. Not
   * bound by the longest provider call (unlike the poller's PROCESSING_STUCK_AFTER_MS): BullMQ
   * renews the lock every half of it while the process lives, however long the call takes.
   */
  WORKER_LOCK_MS: positiveInt(30_000, 600_000),
  /**
   * How long an order that provably was not sent waits for a provider of its route to take it
   * (circuit breaker open, provider unreachable, balance too low) before it fails as never sent:
   * `15m` by default; `0` fails such an order once its job's few quick retries are spent.
   */
  ORDER_MAX_WAIT: duration('15m', { allowZero: true }),
  // BATCH_MAX_ROW_BYTES: the API's limit, so a row made long by quoted line breaks is refused alike.
  ...batchRowEnvShape,
  /** CSV rows validated and written per ledger round trip when importing a batch. */
  BATCH_CHUNK_ROWS: positiveInt(1_000, 10_000),
  /** Batch jobs (imports, releases) one process runs at once. */
  BATCH_IMPORT_CONCURRENCY: positiveInt(1, 16),
  /**
   * Most recharge jobs waiting on a provider's queue for a CSV batch to add more: past it the
   * batch's orders wait in the ledger, `queued`, and its release job adds them as the queue drains.
   */
  BATCH_RELEASE_BACKLOG: positiveInt(DEFAULT_RELEASE_BACKLOG, 1_000_000),
});

export type WorkerConfig = z.infer<typeof schema>;

export function loadWorkerConfig(env: Record<string, string | undefined>): WorkerConfig {
  return parseEnv('worker', schema, env, providerCredentialProblems);
}
