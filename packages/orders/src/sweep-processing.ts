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
): Promise<{ readonly toPending: number; readonly requeued: number; readonly callsEnded: number }> {
  let toPending = 0;
  let requeued = 0;
  let callsEnded = 0;
  await forEachStale(deps, 'processing', options, async (order) => {
    if (order.inFlight) {
      const moved = await transitionOrder(deps, order, {
        // At the version read: a call claimed again since (after a not-sent retry) is a live one.
        expect: {
          state: 'processing',
          inFlight: true,
          providerOrderId: order.providerOrderId,
          version: order.version,
        },
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
  // An order sent to a person while its call was in flight waits for that call's answer; one whose
  // worker died never gets it: after the same time, the operator may decide (the outcome is unknown).
  await forEachStale(deps, 'manual_review', options, async (order) => {
    if (!order.inFlight) return;
    const ended = await transitionOrder(deps, order, {
      expect: {
        state: 'manual_review',
        inFlight: true,
        providerOrderId: order.providerOrderId,
        version: order.version,
      },
      to: 'manual_review',
      patch: { inFlight: false },
      entry: {
        at: nowIso(deps),
        source: 'poller',
        note: `the call to ${order.provider} as ${order.providerOrderId} never answered within ${Math.round(options.olderThanMs / 1000)} s: its outcome is unknown; check ${order.provider} for it before deciding`,
      },
    });
    if (ended) callsEnded++;
  });
  return { toPending, requeued, callsEnded };
}
