import { rechargeJobId } from '@rechargeflow/queue';
import { nowIso, type WorkerDeps } from './deps.ts';
import { transitionOrder } from './ledger-calls.ts';
import { forEachStale, type SweepOptions } from './sweep-pages.ts';

/**
 * Orders stuck in `processing` longer than `olderThanMs` (their worker died and the job is gone or
 * exhausted): an order whose call may have left goes to `pending` for the status check; one whose
 * last call provably never left gets its job back (sending it is safe).
 */
export async function sweepStuckProcessing(
  deps: WorkerDeps,
  options: SweepOptions,
): Promise<{ readonly toPending: number; readonly requeued: number }> {
  let toPending = 0;
  let requeued = 0;
  await forEachStale(deps, 'processing', options, async (order) => {
    if (order.inFlight) {
      const moved = await transitionOrder(deps, order, {
        expect: { state: 'processing', inFlight: true, providerOrderId: order.providerOrderId },
        to: 'pending',
        patch: { inFlight: false, checkAfterMs: 0 },
        entry: {
          at: nowIso(deps),
          source: 'poller',
          note: `stuck in processing for over ${Math.round(options.olderThanMs / 1000)} s while a provider call may have been in flight; not sent again, the status check will settle it`,
        },
      });
      if (moved) toPending++;
    } else {
      const key = { clientId: order.clientId, orderId: order.orderId };
      const result = await deps.producer.ensureQueued(
        'recharge',
        key,
        rechargeJobId(key, order.provider),
        order.provider,
      );
      if (result !== 'present') requeued++;
    }
  });
  return { toPending, requeued };
}
