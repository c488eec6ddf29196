import {
  a1topupBackupEnvShape,
  a1topupEnvShape,
  duration,
  onOff,
  parseEnv,
  port,
  positiveInt,
  providerCredentialProblems,
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
  ...statusPollEnvShape,
  /** A pending order older than this goes to manual_review (48h, 90m, 30s ...). */
  PENDING_MAX_AGE: duration('48h'),
  /** How long "no record found" from the status API is not taken as an answer after a send. */
  NOT_FOUND_GRACE: duration('15m'),
  /** What a lasting "no record found" means after the grace period: failed, or manual_review. */
  NOT_FOUND_AFTER_GRACE: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.enum(['failed', 'manual_review'], { error: 'must be failed or manual_review' }).default('failed'),
  ),
  /** Confirm a reversal callback with the status API before applying it. */
  VERIFY_REVERSALS: onOff('on'),
  /**
   * How long the status API is asked again about a reversal callback it does not confirm (it may
   * lag its own callback) before the callback is kept as reversal_not_confirmed for an operator.
   */
  REVERSAL_CONFIRM_WINDOW: duration('15m').refine((ms) => ms <= 15 * 60_000, {
    message: 'must be at most 15m (the callback job asks again with back-off for about 17 min)',
  }),
  /** Status checks one poller runs at once. */
  STATUS_CHECK_CONCURRENCY: positiveInt(10, 500),
  /** Most orders claimed for checking at a time. */
  STATUS_CHECK_BATCH: positiveInt(500, 1_000),
  /**
   * How long one sweep keeps claiming full batches of due checks (a backlog after an outage is
   * worked through at once, not one batch per sweep). 0: one batch per sweep.
   */
  STATUS_SWEEP_BUDGET_MS: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.coerce
      .number()
      .int('must be a whole number')
      .min(0, 'must be 0 or more')
      .max(60_000, 'must be at most 60000')
      .default(10_000),
  ),
  /** How often the poller sweeps (status checks, stranded and stuck orders, unhandled callbacks). */
  SWEEP_INTERVAL_MS: positiveInt(5_000, 3_600_000),
  /** A `queued` order older than this with no runnable job is handed to the queue again. */
  STRANDED_AFTER_MS: positiveInt(30_000, 86_400_000),
  /** A `processing` order untouched this long lost its worker: to pending (or re-queued if never sent). */
  PROCESSING_STUCK_AFTER_MS: positiveInt(120_000, 86_400_000),
  /** How often each provider's balance is sampled (for reconciliation). */
  BALANCE_SAMPLE_INTERVAL_MS: positiveInt(300_000, 86_400_000),
  /** Callback jobs one poller applies at once. */
  CALLBACK_CONCURRENCY: positiveInt(10, 500),
  /** Port for the poller's /metrics; 0 turns it off. */
  METRICS_PORT: port(0),
  /** Interface the metrics listener binds: loopback by default; 0.0.0.0 in a container. */
  METRICS_HOST: z.preprocess((v) => (v === '' ? undefined : v), z.string().default('127.0.0.1')),
});

export type PollerConfig = z.infer<typeof schema>;

export function loadPollerConfig(env: Record<string, string | undefined>): PollerConfig {
  return parseEnv('poller', schema, env, providerCredentialProblems);
}
