import {
  type Order,
  type OrderKey,
  ProviderNotEnabledError,
  providerOrderId,
  type RechargeRequest,
  requestFingerprint,
} from '@rechargeflow/domain';
import { rechargeJobId } from '@rechargeflow/queue';
import { nowIso, type OrderDeps } from './deps.ts';

export type SubmitOutcome =
  /** New order: in the ledger, and its job was added (or will be by the recovery sweep). */
  | { readonly kind: 'created'; readonly order: Order; readonly enqueued: boolean }
  /** The same request again: the order as it is. */
  | { readonly kind: 'existing'; readonly order: Order }
  /** The same order id with a different body: refused, nothing changed. */
  | { readonly kind: 'conflict'; readonly order: Order };

export interface SubmitCommand extends OrderKey {
  readonly request: RechargeRequest;
  readonly batchId?: string | undefined;
}

/** The provider an order goes to when no routing table is given. */
export const DEFAULT_PROVIDER = 'a1topup';

/**
 * Writes the order to the ledger first, then adds its job (docs/product.md, rule 3). If the process
 * dies between the two, the order stays `queued` and `requeueStranded` adds the job later; the
 * job id is derived from the order key, so adding it twice is harmless. An order whose route names
 * no provider enabled here is refused by `routeFor` (ProviderNotEnabledError), nothing written.
 */
export async function submitOrder(deps: OrderDeps, command: SubmitCommand): Promise<SubmitOutcome> {
  const key = { clientId: command.clientId, orderId: command.orderId };
  const fingerprint = requestFingerprint(command.request);
  let route: readonly string[];
  try {
    route = deps.routeFor?.(command.request) ?? [DEFAULT_PROVIDER];
  } catch (error) {
    // Refused before any write (the API's 422) - unless it is a repeat of an order accepted while
    // its provider was enabled: a repeat is answered with the order as it is, as always.
    if (!(error instanceof ProviderNotEnabledError)) throw error;
    const existing = await deps.ledger.getOrder(key);
    if (!existing) throw error;
    return existing.fingerprint === fingerprint
      ? { kind: 'existing', order: existing }
      : { kind: 'conflict', order: existing };
  }
  const provider = route[0] ?? DEFAULT_PROVIDER;
  const result = await deps.ledger.createOrder({
    ...key,
    providerOrderId: providerOrderId(key, 1),
    provider,
    route,
    request: command.request,
    fingerprint,
    batchId: command.batchId,
    now: nowIso(deps),
  });
  if (!result.created) {
    if (result.order.fingerprint !== fingerprint) return { kind: 'conflict', order: result.order };
    // A repeat of a request whose enqueue may have been lost: make sure the job exists.
    if (result.order.state === 'queued') await enqueueQuietly(deps, result.order);
    return { kind: 'existing', order: result.order };
  }
  deps.events?.transitioned?.(result.order, 'queued');
  const enqueued = await enqueueQuietly(deps, result.order);
  return { kind: 'created', order: result.order, enqueued };
}

async function enqueueQuietly(deps: OrderDeps, order: Order): Promise<boolean> {
  try {
    await deps.producer.enqueue(
      'recharge',
      { clientId: order.clientId, orderId: order.orderId },
      rechargeJobId(order, order.provider),
      order.provider,
    );
    return true;
  } catch (error) {
    // The order is safe in the ledger; the recovery sweep enqueues it once the queue is back.
    deps.log.warn(
      { clientId: order.clientId, orderId: order.orderId, err: String(error) },
      'order recorded but its job could not be added yet; the recovery sweep will add it',
    );
    return false;
  }
}
