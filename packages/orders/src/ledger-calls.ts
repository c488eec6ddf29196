import { type Order, RechargeflowError } from '@rechargeflow/domain';
import type { TransitionCommand } from '@rechargeflow/ledger';
import type { OrderDeps } from './deps.ts';
import { LedgerUnavailableError } from './ledger-unavailable-error.ts';

/** Runs a ledger call; infrastructure failures become retryable, domain refusals pass through. */
export async function ledgerCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof RechargeflowError && !error.retryable) throw error;
    throw new LedgerUnavailableError(error);
  }
}

/** Applies a conditional transition; `null` when the order was not in the expected condition. */
export async function transitionOrder(
  deps: OrderDeps,
  order: Order,
  command: TransitionCommand,
): Promise<Order | null> {
  // The order we read lets the store answer without reading it back (see TransitionCommand.known).
  const result = await ledgerCall(() => deps.ledger.transition(order, { ...command, known: order }));
  if (!result.applied) return null;
  if (result.order.state !== order.state) deps.events?.transitioned?.(result.order, order.state);
  return result.order;
}

/**
 * "Now" for every age comparison (stuck, stranded, grace periods, confirm windows): the ledger's
 * clock, which every host shares, not this host's (clocks drift). `deps.now` overrides it (tests).
 */
export async function storeNow(deps: OrderDeps): Promise<Date> {
  if (deps.now) return deps.now();
  return ledgerCall(() => deps.ledger.clock());
}
