import { parseEnv, port, positiveInt, secondsList, storageEnvShape } from '@rechargeflow/config';
import { z } from 'zod';

const schema = z.object({
  ...storageEnvShape,
  /** Seconds between status checks of a pending order, comma-separated; the last repeats. */
  STATUS_POLL_SCHEDULE: secondsList('30,60,120,300,600,1800,3600'),
  /** A `queued` order older than this with no runnable job is handed to the queue again. */
  STRANDED_AFTER_MS: positiveInt(30_000, 86_400_000),
  /** How often the poller sweeps. */
  SWEEP_INTERVAL_MS: positiveInt(10_000, 3_600_000),
  /** Port for the poller's /metrics; 0 turns it off. */
  METRICS_PORT: port(0),
});

export type PollerConfig = z.infer<typeof schema>;

export function loadPollerConfig(env: Record<string, string | undefined>): PollerConfig {
  return parseEnv('poller', schema, env);
}
