import {
  a1topupBackupEnvShape,
  a1topupEnvShape,
  httpListenerEnvShape,
  parseEnv,
  port,
  positiveInt,
  providerCredentialProblems,
  providerLimitsEnvShape,
  routingEnvShape,
  statusPollEnvShape,
  storageEnvShape,
  telgoo5EnvShape,
} from '@rechargeflow/config';
import { z } from 'zod';

const schema = z.object({
  ...storageEnvShape,
  ...a1topupEnvShape,
  ...a1topupBackupEnvShape,
  ...telgoo5EnvShape,
  ...routingEnvShape,
  ...providerLimitsEnvShape,
  ...statusPollEnvShape,
  ...httpListenerEnvShape,
  /**
   * How long a job's lock lives without renewal; a worker silent for longer counts as stalled. Not
   * bound by the longest provider call (unlike the poller's PROCESSING_STUCK_AFTER_MS): BullMQ
   * renews the lock every half of it while the process lives, however long the call takes.
   */
  WORKER_LOCK_MS: positiveInt(30_000, 600_000),
  /** CSV rows validated and written per ledger round trip when importing a batch. */
  BATCH_CHUNK_ROWS: positiveInt(1_000, 10_000),
  /** Batches one worker process imports at once. */
  BATCH_IMPORT_CONCURRENCY: positiveInt(1, 16),
  /** Port for this worker's /metrics; 0 turns it off. */
  METRICS_PORT: port(0),
  /** Interface the metrics listener binds: loopback by default; 0.0.0.0 in a container. */
  METRICS_HOST: z.preprocess((v) => (v === '' ? undefined : v), z.string().default('127.0.0.1')),
});

export type WorkerConfig = z.infer<typeof schema>;

export function loadWorkerConfig(env: Record<string, string | undefined>): WorkerConfig {
  return parseEnv('worker', schema, env, providerCredentialProblems);
}
