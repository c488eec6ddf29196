import type { Order, RechargeRequest } from '@rechargeflow/domain';
import type { CreateResult, NewOrder } from '../orders/new-order.ts';
import { OrderArchivedError } from '../orders/order-archived-error.ts';

/**
 * One chunk of a CSV import's new orders (BatchStore.createBatchOrders): every order of it is the
 * same client's, made at the same time, a member of the same batch, so that is said once and each
 * order carries only what differs.
 */
export interface BatchOrderChunk {
  readonly clientId: string;
  readonly batchId: string;
  /** ISO time: createdAt/updatedAt of every order and the time of its first history entry. */
  readonly now: string;
  readonly orders: readonly BatchOrder[];
}

export interface BatchOrder {
  readonly orderId: string;
  readonly providerOrderId: string;
  /** Providers to try in order; the first is the order's provider. */
  readonly route: readonly string[];
  readonly request: RechargeRequest;
  readonly fingerprint: string;
}

/** What became of one order of a chunk, in the chunk's order. */
export type BatchOrderResult =
  /** Written exactly as createOrder would have written it (state `queued`, a member of the batch). */
  | { readonly kind: 'created' }
  /** The key had an order already: it is answered unchanged (not made a member; see linkOrders). */
  | { readonly kind: 'existing'; readonly order: Order }
  /** The key's order was archived by retention and removed: nothing is made under it again. */
  | { readonly kind: 'archived' };

/** The chunk's orders as createOrders takes them. */
export function newOrdersOf(chunk: BatchOrderChunk): NewOrder[] {
  return chunk.orders.map((order) => ({
    clientId: chunk.clientId,
    orderId: order.orderId,
    providerOrderId: order.providerOrderId,
    provider: order.route[0] ?? '',
    route: order.route,
    request: order.request,
    fingerprint: order.fingerprint,
    batchId: chunk.batchId,
    now: chunk.now,
  }));
}

/**
 * createBatchOrders through a store's createOrders (MongoDB, test stand-ins), where one archived key
 * fails the whole call with OrderArchivedError: that key is answered `archived` and the call made
 * again without it (the orders already written come back as existing, unchanged; each create is
 * idempotent), so one archived order id never stops an import.
 */
export async function createBatchOrdersVia(
  createOrders: (orders: readonly NewOrder[]) => Promise<readonly CreateResult[]>,
  chunk: BatchOrderChunk,
): Promise<BatchOrderResult[]> {
  const all = newOrdersOf(chunk);
  const archived = new Set<string>();
  for (;;) {
    const asked = all.filter((order) => !archived.has(order.orderId));
    let created: readonly CreateResult[];
    try {
      created = await createOrders(asked);
    } catch (error) {
      if (!(error instanceof OrderArchivedError) || archived.has(error.orderId)) throw error;
      archived.add(error.orderId);
      continue;
    }
    if (created.length !== asked.length)
      throw new Error(`createOrders answered ${created.length} results for ${asked.length} orders`);
    let next = 0;
    return all.map((order): BatchOrderResult => {
      if (archived.has(order.orderId)) return { kind: 'archived' };
      const result = created[next++] as CreateResult;
      // An order this very call wrote on an earlier try comes back existing: it is this batch's.
      return result.created ? { kind: 'created' } : { kind: 'existing', order: result.order };
    });
  }
}
