import { formatRupees, maskNumber, type Order } from '@rechargeflow/domain';

/**
 * What an operator needs to look up an order of a provider with no status API (Telgoo5) in its
 * back office: that provider never saw our orderid, so the MDN (masked: the order view has it in
 * full, and notes are listed to every operator), the plan, the amount and the time.
 */
export function noStatusApiLookup(order: Order): string {
  const t = order.request.telgoo5;
  return [
    `${order.provider} has no status API: check in its back office whether the order's MDN (${maskNumber(order.request.number)})`,
    t
      ? `(enrollment ${t.enrollmentId}, ${t.topupType} ${t.planCode ? `plan code ${t.planCode}` : `plan id ${t.planId ?? '?'}`})`
      : '',
    `got a top-up of ${formatRupees(order.request.amount)} around ${order.updatedAt}; never resent`,
  ]
    .filter(Boolean)
    .join(' ');
}
