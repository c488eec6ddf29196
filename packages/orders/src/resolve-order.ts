import type { Order, OrderKey } from '@rechargeflow/domain';
import { nowIso, type OrderDeps } from './deps.ts';
import { ledgerCall, transitionOrder } from './ledger-calls.ts';

export type ResolveOutcome =
  | { readonly kind: 'resolved'; readonly order: Order }
  | { readonly kind: 'not_found' }
  | { readonly kind: 'not_in_review'; readonly order: Order };

/** An operator's decision on an order in `manual_review`, recorded with who and why. */
export async function resolveOrder(
  deps: OrderDeps,
  key: OrderKey,
  decision: { status: 'success' | 'failed'; reason: string; actor: string },
): Promise<ResolveOutcome> {
  const order = await ledgerCall(() => deps.ledger.getOrder(key));
  if (!order) return { kind: 'not_found' };
  if (order.state !== 'manual_review') return { kind: 'not_in_review', order };
  const resolved = await transitionOrder(deps, order, {
    expect: { state: 'manual_review' },
    to: decision.status,
    entry: { at: nowIso(deps), source: 'operator', actor: decision.actor, note: decision.reason },
  });
  if (!resolved) {
    const current = await ledgerCall(() => deps.ledger.getOrder(key));
    return current ? { kind: 'not_in_review', order: current } : { kind: 'not_found' };
  }
  deps.log.info(
    { clientId: key.clientId, orderId: key.orderId, status: decision.status, actor: decision.actor },
    'order resolved by an operator',
  );
  return { kind: 'resolved', order: resolved };
}
