import { type Order, type OrderKey, providerOrderId } from '@rechargeflow/domain';
import type { TransitionCommand } from '@rechargeflow/ledger';
import { nowIso, type OrderDeps } from './deps.ts';
import { ledgerCall, transitionOrder } from './ledger-calls.ts';

export type ResolveOutcome =
  | { readonly kind: 'resolved'; readonly order: Order }
  | { readonly kind: 'not_found' }
  | { readonly kind: 'not_in_review'; readonly order: Order }
  /** A provider call of the order's current attempt may still be running: wait for its answer. */
  | { readonly kind: 'call_in_flight'; readonly order: Order }
  /** A success must name the attempt the provider charged: the order has been at several. */
  | { readonly kind: 'attempt_needed'; readonly order: Order; readonly attempts: readonly string[] };

export interface ResolveDecision {
  readonly status: 'success' | 'failed';
  readonly reason: string;
  readonly actor: string;
  /**
   * For `success`: the attempt (providerOrderId) the provider charged. Required when the order
   * has been at more than one provider (the ledger books the spend on that attempt and provider).
   */
  readonly providerOrderId?: string | undefined;
}

/**
 * An operator's decision, recorded with who and why: on an order in `manual_review` (success or
 * failed), or the correction of a `failed` order the provider did charge (success only: the
 * ledger must be able to book a spend it first believed did not happen). The write is pinned to
 * the attempt the operator saw; a success names the attempt that cost money, so the books show
 * the charge where it was made. Refused while a provider call may still be running.
 */
export async function resolveOrder(
  deps: OrderDeps,
  key: OrderKey,
  decision: ResolveDecision,
): Promise<ResolveOutcome> {
  const order = await ledgerCall(() => deps.ledger.getOrder(key));
  if (!order) return { kind: 'not_found' };
  const correction = order.state === 'failed' && decision.status === 'success';
  if (order.state !== 'manual_review' && !correction) return { kind: 'not_in_review', order };
  if (order.inFlight) return { kind: 'call_in_flight', order };
  // The attempts an order can have had: one orderid per route position (failover), in order.
  const attempts = order.route.map((_, index) => providerOrderId(order, index + 1));
  const reached = attempts.slice(0, Math.max(1, attempts.indexOf(order.providerOrderId) + 1));
  let book: NonNullable<TransitionCommand['patch']>['bookAttempt'];
  if (decision.status === 'success') {
    const named = decision.providerOrderId;
    if (named === undefined) {
      if (reached.length > 1) return { kind: 'attempt_needed', order, attempts: reached };
    } else {
      const index = reached.indexOf(named);
      if (index < 0) return { kind: 'attempt_needed', order, attempts: reached };
      if (named !== order.providerOrderId) book = { provider: order.route[index]!, providerOrderId: named };
    }
  }
  const booked = book ? ` on ${book.providerOrderId} at ${book.provider}` : '';
  const command: TransitionCommand = {
    expect: { state: order.state, providerOrderId: order.providerOrderId, inFlight: false },
    to: decision.status,
    patch: book ? { bookAttempt: book } : undefined,
    entry: {
      at: nowIso(deps),
      source: 'operator',
      actor: decision.actor,
      note: correction
        ? `correction by an operator: the provider charged ${book?.providerOrderId ?? order.providerOrderId}${booked}; ${decision.reason}`
        : `${decision.reason}${booked}`,
    },
  };
  let resolved: Order | null;
  try {
    resolved = await transitionOrder(deps, order, command);
  } catch (error) {
    // The named attempt is not one the order holds (a route position it skipped).
    const cause = error instanceof Error ? error.cause : undefined;
    if (cause instanceof RangeError && cause.message.includes('not one of its attempts'))
      return { kind: 'attempt_needed', order, attempts: reached };
    throw error;
  }
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
      bookedOn: book?.providerOrderId,
    },
    'order resolved by an operator',
  );
  return { kind: 'resolved', order: resolved };
}
