import type { Order, OrderKey } from '@rechargeflow/domain';
import type { CallbackRecord } from '@rechargeflow/ledger';
import { type CatalogDeps, nowIso, type OrderDeps } from './deps.ts';
import { ledgerCall, transitionOrder } from './ledger-calls.ts';

export type ReverseOutcome =
  | { readonly kind: 'reversed'; readonly order: Order }
  | { readonly kind: 'not_found' }
  | { readonly kind: 'not_success'; readonly order: Order }
  | { readonly kind: 'callback_not_found' }
  | { readonly kind: 'callback_mismatch'; readonly reason: string };

/**
 * An operator records a dispute reversal the system could not apply by itself: a reversal callback
 * the status API never confirmed, one that arrived while the order was under review, or a reversal
 * the provider reported another way (portal, e-mail). `success` → `reversed`, with the amount, who
 * and why; with `callbackId`, that stored Failure callback is linked and marked applied.
 */
export async function reverseOrder(
  deps: OrderDeps & CatalogDeps,
  key: OrderKey,
  decision: { reason: string; actor: string; callbackId?: string | undefined },
): Promise<ReverseOutcome> {
  const order = await ledgerCall(() => deps.ledger.getOrder(key));
  if (!order) return { kind: 'not_found' };
  let callback: CallbackRecord | null = null;
  if (decision.callbackId !== undefined) {
    const id = decision.callbackId;
    callback = await ledgerCall(() => deps.ledger.getCallback(id));
    if (!callback) return { kind: 'callback_not_found' };
    if (callback.providerOrderId !== order.providerOrderId) {
      return {
        kind: 'callback_mismatch',
        reason: `callback ${id} is about orderid ${callback.providerOrderId}, not this order's ${order.providerOrderId}`,
      };
    }
    if (deps.providerCatalog.callbackStatus(callback.provider, callback.status) !== 'failed') {
      return {
        kind: 'callback_mismatch',
        reason: `callback ${id} reports "${callback.status}", not a failure`,
      };
    }
  }
  const at = nowIso(deps);
  const link = async (linked: CallbackRecord) => {
    if (linked.outcome === 'applied') return;
    const note = `applied by ${decision.actor}: ${decision.reason}`;
    await ledgerCall(() => deps.ledger.setCallbackOutcome(linked.id, 'applied', note, at));
  };
  // A retry after the reversal was written but the callback not yet linked (a ledger error
  // between the two writes): finish the link.
  if (order.state === 'reversed' && callback && order.reversal?.callbackId === callback.id) {
    await link(callback);
    return { kind: 'reversed', order };
  }
  if (order.state !== 'success') return { kind: 'not_success', order };
  const reversed = await transitionOrder(deps, order, {
    expect: { state: 'success', providerOrderId: order.providerOrderId },
    to: 'reversed',
    patch: {
      reversal: {
        amount: order.request.amount,
        at,
        providerRef: callback?.providerRef,
        callbackId: callback?.id,
      },
    },
    entry: {
      at,
      source: 'operator',
      actor: decision.actor,
      note: `dispute reversal recorded by an operator${callback ? ` (callback ${callback.id})` : ''}: ${decision.reason}; amount returned to the provider balance`,
    },
  });
  if (!reversed) {
    const current = await ledgerCall(() => deps.ledger.getOrder(key));
    return current ? { kind: 'not_success', order: current } : { kind: 'not_found' };
  }
  // Counted as soon as it is in the ledger, whatever happens to the link below.
  deps.events?.reversal?.(order.provider, order.request.amount);
  if (callback) await link(callback);
  deps.log.info(
    { clientId: key.clientId, orderId: key.orderId, actor: decision.actor, callbackId: callback?.id },
    'reversal recorded by an operator',
  );
  return { kind: 'reversed', order: reversed };
}
