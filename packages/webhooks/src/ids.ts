import { createHash, createHmac, randomBytes } from 'node:crypto';

/*
 * Every id of a webhook is derived from what it is about, so that any number of dispatchers (one
 * per worker replica), a dispatcher run again after a crash, or a manual retry all name the same
 * event and the same delivery: the ledger stores a delivery once by its id, BullMQ adds its job
 * once by the same id, and the receiver sees one Rechargeflow-Event-Id per event.
 */

/** 128 bits of sha256 over the parts, written unambiguously (a JSON array: no separator tricks). */
function digest(parts: readonly (string | number)[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}

/** One event per order transition: the order's key and the version the transition produced. */
export function orderEventId(clientId: string, orderId: string, version: number): string {
  return `evt_${digest(['order', clientId, orderId, version])}`;
}

/** One batch.completed per batch, ever. */
export function batchEventId(clientId: string, batchId: string): string {
  return `evt_${digest(['batch', clientId, batchId, 'completed'])}`;
}

/** One delivery per event and endpoint; also the BullMQ job id of its `webhook.deliver` job. */
export function deliveryId(eventId: string, endpointId: string): string {
  return `wd_${digest([eventId, endpointId])}`;
}

/** The id of a new endpoint: random, the only input of its secret besides the deployment key. */
export function newEndpointId(): string {
  return `we_${randomBytes(12).toString('hex')}`;
}

/**
 * An endpoint's signing secret, derived on demand and never stored: `whsec_` + base64url of
 * HMAC-SHA256(WEBHOOK_SIGNING_SECRET, endpointId). A copy of the ledger therefore signs nothing;
 * the API shows the secret once (in the 201 of the endpoint's registration) and the worker derives
 * it again for each attempt. Changing WEBHOOK_SIGNING_SECRET changes every endpoint's secret.
 */
export function endpointSecret(signingKey: string, endpointId: string): string {
  return `whsec_${createHmac('sha256', signingKey).update(endpointId).digest('base64url')}`;
}
