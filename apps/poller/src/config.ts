import {
  archiveEnvShape,
  duration,
  httpListenerEnvShape,
  metricsEnvShape,
  nonNegativeInt,
  oneOf,
  onOff,
  optionalPositiveInt,
  parseEnv,
  positiveInt,
  routingEnvShape,
  statusPollEnvShape,
  storageEnvShape,
} from '@rechargeflow/config';
import {
  providerCredentialProblems,
  providersEnvShape,
  type RechargeTimeBound,
  worstCaseRechargeTimes,
} from '@rechargeflow/providers';
import { retrySpanMs } from '@rechargeflow/queue';
import { z } from 'zod';

/**
 * How much longer than a provider's longest recharge call PROCESSING_STUCK_AFTER_MS must be: room
 * for the ledger writes around the call, Redis round trips of the Telgoo5 token lease, a busy event
 * loop and clock skew between the worker and the store.
 */
const STUCK_MARGIN_MS = 30_000;

/**
 * The longest REVERSAL_CONFIRM_WINDOW: inside the span of the callback.apply job's retries (the job
 * catalogue's attempts and back-off), with room to spare; the config test holds the two together.
 */
export const MAX_CONFIRM_WINDOW_MS = 15 * 60_000;

const schema = z.object({
  ...storageEnvShape,
  // PROVIDERS, the call settings and each provider's variables: the registry's.
  ...providersEnvShape,
  ...routingEnvShape,
  ...statusPollEnvShape,
  ...httpListenerEnvShape,
  ...metricsEnvShape,
  // LEDGER_RETENTION and LEDGER_ARCHIVE_DIR: the ledger.retention job (packages/config).
  ...archiveEnvShape,
  /** A pending order older than this goes to manual_review (48h, 90m, 30s ...). */
  PENDING_MAX_AGE: duration('48h'),
  /** How long "no record found" from the status API is not taken as an answer after a send. */
  NOT_FOUND_GRACE: duration('15m'),
  /** What a lasting "no record found" means after the grace period: failed, or manual_review. */
  NOT_FOUND_AFTER_GRACE: oneOf(['failed', 'manual_review'], 'failed'),
  /** Confirm a reversal callback with the status API before applying it. */
  VERIFY_REVERSALS: onOff('on'),
  /**
   * Confirm a callback that would settle an order (pending, in flight, or a charge reported for a
   * failed order) with the status API before applying it: a stale or forged Failure must not fail
   * an order that may have been charged. Off trusts callbacks as they come.
   */
  VERIFY_CALLBACKS: onOff('on'),
  /**
   * How long the status API is asked again about a reversal callback it does not confirm (it may
   * lag its own callback) before the callback is kept as reversal_not_confirmed for an operator.
   * Asked by the callback.apply job's retries, so it must end within their span (the catalogue's).
   */
  REVERSAL_CONFIRM_WINDOW: duration('15m').refine((ms) => ms <= MAX_CONFIRM_WINDOW_MS, {
    message: `must be at most 15m (the callback job asks again with back-off for about ${Math.round(retrySpanMs('callback.apply') / 60_000)} min)`,
  }),
  /** Status checks one poller runs at once. */
  STATUS_CHECK_CONCURRENCY: positiveInt(10, 500),
  /** Most orders claimed for checking at a time. */
  STATUS_CHECK_BATCH: positiveInt(500, 1_000),
  /**
   * How long one sweep keeps claiming full batches of due checks (a backlog after an outage is
   * worked through at once, not one batch per sweep). 0: one batch per sweep.
   */
  STATUS_SWEEP_BUDGET_MS: nonNegativeInt(10_000, 60_000),
  /** How often the poller sweeps (status checks, stranded and stuck orders, unhandled callbacks). */
  SWEEP_INTERVAL_MS: positiveInt(5_000, 3_600_000),
  /** A `queued` order older than this with no runnable job is handed to the queue again. */
  STRANDED_AFTER_MS: positiveInt(30_000, 86_400_000),
  /**
   * A `processing` order untouched this long lost its worker: to pending (or re-queued if never
   * sent). Must exceed the longest recharge call of every provider in use plus STUCK_MARGIN_MS
   * (checked below), or a call still running is taken for a dead one. Unset: 120 s, or that
   * longest call plus twice the margin when it is longer (Telgoo5's sign-ins and retries).
   */
  PROCESSING_STUCK_AFTER_MS: optionalPositiveInt(86_400_000),
  /** How often each provider's balance is sampled (for reconciliation). */
  BALANCE_SAMPLE_INTERVAL_MS: positiveInt(300_000, 86_400_000),
  /** Callback jobs one poller applies at once. */
  CALLBACK_CONCURRENCY: positiveInt(10, 500),
});

export type PollerConfig = Omit<z.infer<typeof schema>, 'PROCESSING_STUCK_AFTER_MS'> & {
  readonly PROCESSING_STUCK_AFTER_MS: number;
};

/** The longest recharge call of the providers in use, with its provider (null: none enabled). */
function longestCall(config: Parameters<typeof worstCaseRechargeTimes>[0]): RechargeTimeBound | null {
  return worstCaseRechargeTimes(config).reduce<RechargeTimeBound | null>(
    (max, bound) => (max === null || bound.worstCaseMs > max.worstCaseMs ? bound : max),
    null,
  );
}

/**
 * The stuck-order sweep moves an in-flight order to `pending` once it is older than
 * PROCESSING_STUCK_AFTER_MS; while the worker's call is still running that hands the order to the
 * status check (to a person, for a provider without one) although the worker is about to settle it.
 * The figures come from this poller's provider settings: the workers must run with the same ones.
 * Read from the raw environment like the other cross checks, so it is reported with every other problem.
 */
function stuckTimeProblems(env: Record<string, string | undefined>): string[] {
  const parsed = schema
    .pick({
      PROVIDERS: true,
      PROVIDER_TIMEOUT_MS: true,
      PROVIDER_CONNECT_TIMEOUT_MS: true,
      PROCESSING_STUCK_AFTER_MS: true,
    })
    .safeParse(env);
  // A bad value among these is named by the schema itself.
  if (!parsed.success) return [];
  const config = parsed.data;
  const longest = longestCall(config);
  const stuckMs = config.PROCESSING_STUCK_AFTER_MS;
  // Unset: derived below, always long enough.
  if (stuckMs === undefined || longest === null || stuckMs > longest.worstCaseMs + STUCK_MARGIN_MS) return [];
  return [
    `PROCESSING_STUCK_AFTER_MS: must be more than ${longest.worstCaseMs + STUCK_MARGIN_MS} (is ${stuckMs}): one ${longest.provider} recharge call may take ${longest.worstCaseMs} ms with PROVIDER_TIMEOUT_MS=${config.PROVIDER_TIMEOUT_MS}, plus a ${STUCK_MARGIN_MS} ms margin, or an order whose call is still running is moved to pending`,
  ];
}

export function loadPollerConfig(env: Record<string, string | undefined>): PollerConfig {
  const config = parseEnv('poller', schema, env, (raw) => [
    ...providerCredentialProblems(raw),
    ...stuckTimeProblems(raw),
  ]);
  const longest = longestCall(config)?.worstCaseMs ?? 0;
  return {
    ...config,
    PROCESSING_STUCK_AFTER_MS:
      config.PROCESSING_STUCK_AFTER_MS ?? Math.max(120_000, longest + 2 * STUCK_MARGIN_MS),
  };
}
