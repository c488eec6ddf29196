import { rechargeJobId } from '@rechargeflow/queue';
import type { OrderDeps } from './deps.ts';
import { forEachStale, type SweepOptions } from './sweep-pages.ts';

export interface RequeueSummary {
  readonly examined: number;
  readonly added: number;
  readonly retried: number;
}

/**
 * Finds orders that have sat in `queued` longer than `olderThanMs` and makes sure each has a
 * runnable job. Covers a crash between the ledger write and the enqueue, and a queue outage.
 */
export async function requeueStranded(deps: OrderDeps, options: SweepOptions): Promise<RequeueSummary> {
  let added = 0;
  let retried = 0;
  const examined = await forEachStale(deps, 'queued', options, async (order) => {
    const key = { clientId: order.clientId, orderId: order.orderId };
    const result = await deps.producer.ensureQueued(
      'recharge',
      key,
      rechargeJobId(key, order.provider),
      order.provider,
    );
    if (result === 'added') added++;
    if (result === 'retried') retried++;
    if (result !== 'present') {
      deps.log.info({ ...key, result }, 'stranded queued order handed to the queue again');
    }
  });
  return { examined, added, retried };
}
