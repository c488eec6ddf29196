/**
 * The webhook side of the ledger: endpoints clients register, the outbox of order events written
 * with the transition that causes them, and each delivery's attempts.
 *
 * No secret is stored: an endpoint's signing secret is derived from the deployment's signing key
 * and the endpoint id (packages/webhooks), so a copy of the ledger signs nothing.
 */

/** The event types a client may subscribe to. */
export const WEBHOOK_EVENT_TYPES = [
  'order.succeeded',
  'order.failed',
  'order.reversed',
  'order.manual_review',
  'batch.completed',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export interface WebhookEndpoint {
  /** `we_` + random; the secret is derived from it. */
  readonly id: string;
  readonly clientId: string;
  /** Absolute https or http URL, without user info. */
  readonly url: string;
  /** Subscribed types (all of them when the client named none). */
  readonly events: readonly WebhookEventType[];
  readonly createdAt: string;
}

/**
 * One entry of the outbox: an order entered a state that a client may be told about. Written by
 * the same atomic write as the transition (Redis: the transition's script; MongoDB: the
 * transition's single-document update, on the order's document), so a crash between the two
 * cannot lose it, and a refused transition writes none.
 */
export interface OutboxEntry {
  /**
   * The store's id of the entry, what `ackOutbox` takes: opaque (Redis: the stream entry id;
   * MongoDB: the order document's id and the version).
   */
  readonly id: string;
  readonly clientId: string;
  readonly orderId: string;
  /** The order's version after the transition: with the key, names the event (one per transition). */
  readonly version: number;
  /** The state entered: success, failed, reversed or manual_review. */
  readonly state: OutboxState;
  /** Batch of the order, when it came from one (for batch.completed). */
  readonly batchId?: string | undefined;
  /**
   * Every batch the order is a member of at the transition (its own `batchId` first, then those a
   * later upload linked it to; see BatchStore.linkOrders); absent when none. A batch completes when
   * its last member settles, which may be a linked order from another batch.
   */
  readonly batchIds?: readonly string[] | undefined;
  /** ISO, store clock. */
  readonly at: string;
}

/** The states whose entry (from another state) writes an outbox entry, in the same atomic write. */
export const OUTBOX_STATES = ['success', 'failed', 'reversed', 'manual_review'] as const;
export type OutboxState = (typeof OUTBOX_STATES)[number];

export const DELIVERY_STATES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** A page of pending deliveries' ids (scanPendingDeliveries). */
export interface PendingDeliveriesPage {
  readonly ids: readonly string[];
  /** Pass back for the next page; absent when there is no more. */
  readonly nextCursor?: string | undefined;
}

/** One POST of a delivery and what came back (bounded: the answer's first bytes only). */
export interface DeliveryAttempt {
  readonly at: string;
  /** HTTP status, when an answer came. */
  readonly status?: number | undefined;
  /** Why it failed without an answer (timeout, refused, address not allowed), in words. */
  readonly error?: string | undefined;
  readonly durationMs: number;
  /** The first bytes of the answer's body (at most 256), for the client's debugging. */
  readonly body?: string | undefined;
}

export interface WebhookDelivery {
  /** `wd_` + deterministic hash of (eventId, endpointId): one delivery per event and endpoint. */
  readonly id: string;
  readonly endpointId: string;
  readonly clientId: string;
  /** `evt_…`, the same on every attempt (sent as Rechargeflow-Event-Id). */
  readonly eventId: string;
  readonly type: WebhookEventType;
  /** What the event is about: an order key or a batch. */
  readonly subject:
    | { readonly kind: 'order'; readonly orderId: string; readonly version: number }
    | { readonly kind: 'batch'; readonly batchId: string };
  readonly createdAt: string;
  readonly state: DeliveryState;
  /** Newest last; at most the last 50 kept. */
  readonly attempts: readonly DeliveryAttempt[];
  readonly updatedAt: string;
}

/**
 * Endpoints, the outbox and deliveries. Both ledger stores implement it. Every argument is checked
 * before anything is written (webhook-record.ts): a malformed one is a `RangeError` (a programming
 * error: the API validates what clients send first), a page a client asked for is a
 * `ValidationError` (a 400).
 *
 * The dispatcher's loop, at-least-once end to end:
 * 1. `readOutbox(n)`: the oldest entries (they stay until acknowledged; a crash re-reads them);
 * 2. per entry and per endpoint of the entry's client subscribed to its type: `createDelivery`
 *    under the deterministic id (a repeat after a crash answers the stored one, `isNew: false`),
 *    and queue a send for each delivery that is new or still `pending`;
 * 3. `ackOutbox(ids)` only once every delivery of those entries is stored.
 * Sends then `recordAttempt` (state `delivered`, or `failed` when retries are over, else
 * `pending`); a manual retry is `reopenDelivery` and a send. A delivery whose job ended without it
 * (a job that failed for good) is found by `scanPendingDeliveries` and queued again (the poller).
 */
export interface WebhookStore {
  /**
   * Stores a new endpoint. At most `maxPerClient` (1..1000) per client, enforced in the same
   * atomic write: `null` (nothing written) when the client has that many. `RangeError` for a
   * malformed endpoint (url over MAX_WEBHOOK_URL_BYTES, not http(s), with user info; no event or
   * an unknown one) or an id the client already has.
   */
  createEndpoint(endpoint: WebhookEndpoint, maxPerClient: number): Promise<WebhookEndpoint | null>;
  /** The client's endpoints, oldest first. */
  listEndpoints(clientId: string): Promise<readonly WebhookEndpoint[]>;
  /** The endpoint, or null when there is none or it is another client's. */
  getEndpoint(clientId: string, endpointId: string): Promise<WebhookEndpoint | null>;
  /** Removes the endpoint (its deliveries stay readable until they expire). `false` when unknown. */
  deleteEndpoint(clientId: string, endpointId: string): Promise<boolean>;

  /**
   * The oldest outbox entries of any client, at most `limit` (1..MAX_OUTBOX_READ), oldest first
   * (MongoDB: orders by their oldest entry, each order's entries in version order). Reading takes
   * nothing: an entry stays until acknowledged, and every reader sees it.
   */
  readOutbox(limit: number): Promise<readonly OutboxEntry[]>;
  /** Removes handled entries (idempotent: an unknown or acknowledged id is ignored). */
  ackOutbox(ids: readonly string[]): Promise<void>;

  /**
   * Stores a delivery once (by id): a repeat answers the stored one with `isNew: false`, so the
   * dispatcher may run again after a crash without a second delivery. The delivery expires
   * DELIVERY_TTL_MS after it was stored (store clock). `updatedAt` is kept to the millisecond
   * (answered as ISO); at most the last MAX_ATTEMPTS_KEPT of `attempts` are kept.
   */
  createDelivery(
    delivery: WebhookDelivery,
  ): Promise<{ readonly delivery: WebhookDelivery; readonly isNew: boolean }>;
  getDelivery(deliveryId: string): Promise<WebhookDelivery | null>;
  /**
   * Appends an attempt (keeping the last MAX_ATTEMPTS_KEPT) and sets the state, `updatedAt` =
   * `attempt.at`, while the delivery is `pending` — and a `delivered` attempt also over `failed`
   * (the POST reached the endpoint, whatever a stale run concluded). Anything else writes nothing
   * (a run that lost its job's lock never turns a delivered delivery back, nor a given-up one into
   * pending) and answers the delivery as stored: the caller sees it is not `pending`. `null` when
   * unknown (or expired). The attempt's `body` is at most MAX_ATTEMPT_BODY_CHARS and its `error`
   * MAX_ATTEMPT_ERROR_CHARS (else `RangeError`): the caller cuts them.
   */
  recordAttempt(
    deliveryId: string,
    attempt: DeliveryAttempt,
    state: DeliveryState,
  ): Promise<WebhookDelivery | null>;
  /**
   * A failed or delivered delivery back to `pending` (a manual retry), `updatedAt` = the store's
   * clock; a pending one is answered unchanged. `null` when unknown.
   */
  reopenDelivery(deliveryId: string): Promise<WebhookDelivery | null>;
  /**
   * The `pending` deliveries last changed (stored, an attempt, reopened) before `updatedBefore`
   * (ISO), oldest first: a page looks at the next `limit` (1..MAX_PENDING_SCAN) of them after
   * `cursor` and answers the ids of those still pending (fewer than `limit` when some expired
   * meanwhile; they leave the index), with `nextCursor` while more may follow. A sweep reaches
   * every such delivery however long the backlog. `RangeError` for a limit out of range or an
   * ISO time that is none; `ValidationError` for a cursor the store did not make.
   */
  scanPendingDeliveries(
    updatedBefore: string,
    limit: number,
    cursor?: string | undefined,
  ): Promise<PendingDeliveriesPage>;
  /**
   * An endpoint's deliveries, newest first (by `createdAt`, then id), paged by `after` (a delivery
   * id of the previous page: the page starts strictly after it). `limit` 1..MAX_DELIVERY_PAGE;
   * `next` is present when there are more. `ValidationError` for a limit out of range or an
   * `after` that is not a delivery of this endpoint (any more: start again without it).
   */
  listDeliveries(
    endpointId: string,
    page: { readonly limit: number; readonly after?: string | undefined },
  ): Promise<{ readonly deliveries: readonly WebhookDelivery[]; readonly next?: string | undefined }>;
}
