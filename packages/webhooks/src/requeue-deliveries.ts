import type { WebhookStore } from '@rechargeflow/ledger';
import type { JobProducer } from '@rechargeflow/queue';
import type { WebhookLog } from './deliver.ts';
import { WEBHOOK_BACKOFF } from './retry-policy.ts';

/**
 * A pending delivery unchanged this long has no live job: a live one records an attempt at least
 * once per longest back-off wait (an hour), with room for a busy queue. Sooner would only find
 * jobs waiting out their back-off (left alone, but looked up on every sweep).
 */
export const DELIVERY_STRANDED_AFTER_MS = WEBHOOK_BACKOFF.maxDelayMs + 15 * 60_000;

export interface DeliverySweepDeps {
  readonly store: Pick<WebhookStore, 'scanPendingDeliveries'> & {
    /** The store's clock: ages are measured on it, like every age in the ledger. */
    clock(): Promise<Date>;
  };
  readonly producer: Pick<JobProducer, 'ensureQueued'>;
  readonly log: Pick<WebhookLog, 'info'>;
}

export interface DeliverySweepOptions {
  /** Deliveries unchanged this long (default DELIVERY_STRANDED_AFTER_MS). */
  readonly olderThanMs?: number | undefined;
  /** Index entries read per page (1..MAX_PENDING_SCAN). */
  readonly limit: number;
  /** Stop paging after this long; the next sweep starts again from the oldest. Default: no bound. */
  readonly budgetMs?: number | undefined;
}

export interface DeliverySweep {
  readonly examined: number;
  readonly added: number;
  readonly retried: number;
}

/**
 * Gives every pending delivery left without a job a runnable one. The dispatcher acknowledges its
 * outbox entries once the jobs are queued, so a `webhook.deliver` job that then ends failed
 * (stalled twice, or the ledger failing on all its runs) would leave its delivery pending for
 * good: this finds such deliveries (pending and unchanged for `olderThanMs`, oldest first, a page
 * at a time) and re-adds or retries their job under the delivery id. A job that is still there
 * (waiting, delayed, active) is left as it is.
 */
export async function requeueStrandedDeliveries(
  deps: DeliverySweepDeps,
  options: DeliverySweepOptions,
): Promise<DeliverySweep> {
  const started = performance.now();
  const olderThanMs = options.olderThanMs ?? DELIVERY_STRANDED_AFTER_MS;
  const before = new Date((await deps.store.clock()).getTime() - olderThanMs).toISOString();
  let cursor: string | undefined;
  let examined = 0;
  let added = 0;
  let retried = 0;
  do {
    const page = await deps.store.scanPendingDeliveries(before, options.limit, cursor);
    for (const deliveryId of page.ids) {
      examined++;
      const result = await deps.producer.ensureQueued('webhook.deliver', { deliveryId }, deliveryId);
      if (result === 'present') continue;
      if (result === 'added') added++;
      else retried++;
      deps.log.info({ deliveryId, result }, 'pending webhook delivery without a job queued again');
    }
    cursor = page.nextCursor;
  } while (
    cursor !== undefined &&
    performance.now() - started < (options.budgetMs ?? Number.POSITIVE_INFINITY)
  );
  return { examined, added, retried };
}
