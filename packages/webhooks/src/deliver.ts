import { batchView } from '@rechargeflow/batches';
import { RechargeflowError } from '@rechargeflow/domain';
import type {
  BatchStore,
  DeliveryAttempt,
  DeliveryState,
  OrderStore,
  WebhookDelivery,
  WebhookStore,
} from '@rechargeflow/ledger';
import { toOrderView } from '@rechargeflow/orders';
import { DeliveryRetryError } from './delivery-retry-error.ts';
import type { WebhookEventBody } from './events.ts';
import { endpointSecret } from './ids.ts';
import { webhookRetryDelayMs, withinRetryWindow } from './retry-policy.ts';
import type { WebhookSender } from './sender.ts';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signatureHeader } from './signing.ts';

/** What the delivery job reads and writes in the ledger. */
export type DeliveryStore = Pick<WebhookStore, 'getDelivery' | 'getEndpoint' | 'recordAttempt'> &
  Pick<OrderStore, 'getOrder'> &
  Pick<BatchStore, 'getBatch' | 'batchStates'> & {
    /** The store's clock: the retry window is measured on it, like every age in the ledger. */
    clock(): Promise<Date>;
  };

/** Told about every attempt (metrics): its outcome and how long the POST took. */
export interface WebhookObserver {
  /** `dropped`: not sent, its endpoint deleted (or its order or batch gone) meanwhile. */
  attempt(outcome: 'delivered' | 'retry' | 'failed' | 'dropped', seconds: number): void;
  /** Age of the oldest outbox entry the dispatcher just read (0 when the outbox is empty). */
  outboxAge(seconds: number): void;
  /**
   * A `webhook.deliver` job ended failed (stalled twice, or the ledger failing on every run): its
   * delivery stays pending with no job until the poller's sweep queues it again.
   */
  jobFailed?(): void;
}

export interface WebhookLog {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface DeliverDeps {
  readonly store: DeliveryStore;
  readonly sender: WebhookSender;
  /** WEBHOOK_SIGNING_SECRET: each endpoint's secret is derived from it (endpointSecret). */
  readonly signingKey: string;
  /** WEBHOOK_RETRY_FOR: how long after its event a delivery is still retried. */
  readonly retryForMs: number;
  /** WEBHOOK_RETRY_FIRST_MS: the first wait of the back-off (retry-policy.ts). */
  readonly retryFirstMs: number;
  readonly log: WebhookLog;
  readonly observer?: WebhookObserver | undefined;
}

export type DeliverOutcome = 'delivered' | 'retry' | 'failed' | 'dropped' | 'skipped';

/** Failed attempts at the end of the list, since the last 2xx: the back-off's exponent. */
function failedInARow(attempts: readonly DeliveryAttempt[]): number {
  let count = 0;
  for (let i = attempts.length - 1; i >= 0; i--) {
    const status = attempts[i]?.status;
    if (status !== undefined && status >= 200 && status < 300) break;
    count += 1;
  }
  return Math.max(1, count);
}

/** `data` of the event, rendered now by the functions behind GET /v1/recharges/:id and GET /v1/batches/:id. */
async function renderData(store: DeliveryStore, delivery: WebhookDelivery): Promise<unknown> {
  if (delivery.subject.kind === 'order') {
    const order = await store.getOrder({ clientId: delivery.clientId, orderId: delivery.subject.orderId });
    return order ? toOrderView(order) : null;
  }
  const batch = await store.getBatch(delivery.clientId, delivery.subject.batchId);
  return batch ? batchView(store, batch) : null;
}

/**
 * One run of a `webhook.deliver` job: one signed POST of the delivery's event to its endpoint, the
 * attempt recorded with the delivery. A 2xx ends it (`delivered`). Any other answer, or none, is
 * retried on the back-off while the delivery is younger than WEBHOOK_RETRY_FOR: the attempt is
 * recorded, then a DeliveryRetryError with `retryAfterMs` puts the job back in the delayed set
 * without spending one of its attempts. Past the window the delivery ends `failed`.
 *
 * At least once: a 2xx whose recording fails (the ledger away) is sent again; receivers dedupe on
 * Rechargeflow-Event-Id (docs/api.md, "Webhooks").
 */
export async function deliverWebhook(deps: DeliverDeps, deliveryId: string): Promise<DeliverOutcome> {
  try {
    return await deliverOnce(deps, deliveryId);
  } catch (error) {
    if (error instanceof RechargeflowError) throw error;
    // The ledger (or Redis) failed under us: retried on the job's own back-off.
    throw new DeliveryRetryError(`webhook delivery could not use the ledger: ${String(error)}`, {
      deliveryId,
      cause: error,
    });
  }
}

async function deliverOnce(deps: DeliverDeps, deliveryId: string): Promise<DeliverOutcome> {
  const { store } = deps;
  const delivery = await store.getDelivery(deliveryId);
  // Delivered or given up already (a job added twice, a retry that raced): nothing to send.
  if (delivery?.state !== 'pending') return 'skipped';
  const end = async (attempt: DeliveryAttempt, state: DeliveryState) => {
    await store.recordAttempt(deliveryId, attempt, state);
  };

  const endpoint = await store.getEndpoint(delivery.clientId, delivery.endpointId);
  if (!endpoint) {
    await end({ at: new Date().toISOString(), error: 'the endpoint was deleted', durationMs: 0 }, 'failed');
    deps.observer?.attempt('dropped', 0);
    return 'dropped';
  }
  const data = await renderData(store, delivery);
  if (data === null) {
    await end(
      {
        at: new Date().toISOString(),
        error: `the ${delivery.subject.kind} is no longer in the ledger`,
        durationMs: 0,
      },
      'failed',
    );
    deps.observer?.attempt('dropped', 0);
    return 'dropped';
  }
  const event: WebhookEventBody = {
    id: delivery.eventId,
    type: delivery.type,
    createdAt: delivery.createdAt,
    data,
  };
  const body = JSON.stringify(event);
  const secret = endpointSecret(deps.signingKey, endpoint.id);
  const result = await deps.sender.post(endpoint.url, body, {
    [EVENT_ID_HEADER]: delivery.eventId,
    [SIGNATURE_HEADER]: signatureHeader(body, secret, Date.now() / 1000),
  });
  const attempt: DeliveryAttempt = {
    at: result.at,
    durationMs: result.durationMs,
    ...(result.status === undefined ? {} : { status: result.status }),
    ...(result.error === undefined ? {} : { error: result.error }),
    ...(result.body === undefined ? {} : { body: result.body }),
  };
  const seconds = result.durationMs / 1000;
  if (result.delivered) {
    await end(attempt, 'delivered');
    deps.observer?.attempt('delivered', seconds);
    return 'delivered';
  }

  const now = await store.clock();
  const retry = withinRetryWindow(Date.parse(delivery.createdAt), now.getTime(), deps.retryForMs);
  const wanted = retry ? 'pending' : 'failed';
  const updated = await store.recordAttempt(deliveryId, attempt, wanted);
  const failure = result.error ?? `HTTP ${result.status}`;
  const fields = { deliveryId, endpointId: endpoint.id, eventId: delivery.eventId, failure };
  if (updated && updated.state !== wanted) {
    // Another run ended it meanwhile (this one had lost its job's lock): its outcome stands.
    deps.log.info({ ...fields, state: updated.state }, 'webhook delivery ended by another run; not retried');
    return 'skipped';
  }
  if (!retry || !updated) {
    deps.observer?.attempt('failed', seconds);
    deps.log.warn(fields, 'webhook delivery failed for good: its retry window is over');
    return 'failed';
  }
  deps.observer?.attempt('retry', seconds);
  const waitMs = webhookRetryDelayMs(failedInARow(updated.attempts), deps.retryFirstMs);
  deps.log.info({ ...fields, retryInMs: waitMs }, 'webhook attempt failed; retrying later');
  throw new DeliveryRetryError(`webhook endpoint answered ${failure}; next attempt in ${waitMs} ms`, {
    deliveryId,
    retryAfterMs: waitMs,
  });
}
