import { formatRupees, type Order } from '@rechargeflow/domain';

/** The public JSON form of an order (the API's contract; see README). */
export function toOrderView(order: Order) {
  return {
    orderId: order.orderId,
    status: order.state,
    operator: order.request.operator,
    circle: order.request.circle ?? null,
    number: order.request.number,
    amount: Number(formatRupees(order.request.amount)),
    value1: order.request.value1 ?? null,
    value2: order.request.value2 ?? null,
    telgoo5: order.request.telgoo5
      ? {
          ...order.request.telgoo5,
          // Saved payment profile tokens are shown only by their last characters.
          paymentToken: maskToken(order.request.telgoo5.paymentToken),
          customerToken: maskToken(order.request.telgoo5.customerToken),
        }
      : null,
    provider: order.provider,
    route: order.route,
    providerOrderId: order.providerOrderId,
    providerTxId: order.providerTxId ?? null,
    providerRef: order.providerRef ?? null,
    providerStatus: order.providerStatus ?? null,
    attempts: order.attempts,
    batchId: order.batchId ?? null,
    // A dispute reversal: the amount went back to the provider balance (by callback or operator).
    reversal: order.reversal
      ? {
          amount: Number(formatRupees(order.reversal.amount)),
          at: order.reversal.at,
          providerRef: order.reversal.providerRef ?? null,
          callbackId: order.reversal.callbackId ?? null,
        }
      : null,
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
    history: order.history.map((h) => ({
      at: h.at,
      from: h.from,
      to: h.to,
      source: h.source,
      note: h.note ?? null,
      providerStatus: h.providerStatus ?? null,
      actor: h.actor ?? null,
    })),
  };
}

export type OrderView = ReturnType<typeof toOrderView>;

function maskToken(token: string | undefined): string | null {
  if (token === undefined) return null;
  return `…${token.slice(-4)}`;
}
