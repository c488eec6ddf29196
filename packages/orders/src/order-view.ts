import {
  formatRupees,
  type Order,
  RECHARGE_COLUMNS,
  type RechargeColumn,
  type RechargeRequest,
} from '@rechargeflow/domain';

type TextField = Exclude<RechargeColumn, 'orderId' | 'amount'>;

/**
 * The request's fields a cell can hold, as the order shows them, in their order: the amount in
 * rupees (dollars for Telgoo5), every other one as given, or null. An object field (`telgoo5`) is
 * shown by its own code, never as it came: it may hold what must not be shown back whole.
 */
function requestView(request: RechargeRequest): { [K in TextField]: string | null } & { amount: number } {
  const view: Record<string, string | number | null> = {};
  for (const field of RECHARGE_COLUMNS) {
    if (field === 'orderId') continue;
    view[field] = field === 'amount' ? Number(formatRupees(request.amount)) : (request[field] ?? null);
  }
  return view as { [K in TextField]: string | null } & { amount: number };
}

/**
 * The public JSON form of an order (the API's contract; see docs/api.md, "The order"): what
 * `GET /v1/recharges/:id` answers and what an order webhook carries as `data`, from this one function.
 */
export function toOrderView(order: Order) {
  return {
    orderId: order.orderId,
    status: order.state,
    ...requestView(order.request),
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
