import type { Order, OrderKey } from '@rechargeflow/domain';
import { nowIso, type OrderDeps } from './deps.ts';
import { ledgerCall, transitionOrder } from './ledger-calls.ts';

export type ResolveOutcome =
  | { readonly kind: 'resolved'; readonly order: Order }
  | { readonly kind: 'not_found' }
  | { readonly kind: 'not_in_review'; readonly order: Order };

/**
 * An operator's decision, recorded with who and why: on an order in `manual_review` (success or
 * failed), or the correction of a `failed` order the provider did charge (success only: the
 * ledger must be able to book a spend it first believed did not happen). The write is pinned to
 * the attempt the operator saw, so a decision never lands on an attempt they did not look at.
 */
export async function resolveOrder(
  deps: OrderDeps,
  key: OrderKey,
  decision: { status: 'success' | 'failed'; reason: string; actor: string },
): Promise<ResolveOutcome> {
  const order = await ledgerCall(() => deps.ledger.getOrder(key));
  if (!order) return { kind: 'not_found' };
  const correction = order.state === 'failed' && decision.status === 'success';
  if (order.state !== 'manual_review' && !correction) return { kind: 'not_in_review', order };
  const resolved = await transitionOrder(deps, order, {
    expect: { state: order.state, providerOrderId: order.providerOrderId },
    to: decision.status,
    entry: {
      at: nowIso(deps),
      source: 'operator',
      actor: decision.actor,
      note: correction
        ? `correction by an operator: the provider charged ${order.providerOrderId}; ${decision.reason}`
        : decision.reason,
    },
  });
  if (!resolved) {
    const current = await ledgerCall(() => deps.ledger.getOrder(key));
    return current ? { kind: 'not_in_review', order: current } : { kind: 'not_found' };
  }
  deps.log.info(
    {
      clientId: key.clientId,
      orderId: key.orderId,
      status: decision.status,
      actor: decision.actor,
      correction,
    },
    'order resolved by an operator',
  );
  return { kind: 'resolved', order: resolved };
}
