import { ValidationError } from '@rechargeflow/domain';
import { decodeStaleCursor, type StalePosition } from '../shared/cursors.ts';
import { corrupt, optionalText, type Raw, text } from '../shared/stored-records.ts';
import { timeMs } from '../shared/time.ts';
import { nonEmpty, validateLimit, wholeNumber } from '../shared/validation.ts';
import {
  DELIVERY_STATES,
  type DeliveryAttempt,
  type DeliveryState,
  OUTBOX_STATES,
  type OutboxEntry,
  type OutboxState,
  WEBHOOK_EVENT_TYPES,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEventType,
} from './webhook-store.ts';

/**
 * Webhooks: the same rules in both stores, checked before anything is written, and the decoders
 * of what they read back. Every stored record is bounded: an endpoint by its url, a delivery by
 * its ids and its last MAX_ATTEMPTS_KEPT attempts, each attempt by its body and error.
 */

/** A URL longer than this is refused (browsers' and proxies' common limit). */
export const MAX_WEBHOOK_URL_BYTES = 2048;
/** Ids (endpoint, delivery, event, client, order, batch) as the webhook records keep them. */
export const MAX_WEBHOOK_ID_CHARS = 256;
/** The answer's first characters kept per attempt. */
export const MAX_ATTEMPT_BODY_CHARS = 256;
/** Why an attempt got no answer, in words, at most this long. */
export const MAX_ATTEMPT_ERROR_CHARS = 512;
/** Attempts kept per delivery: the newest ones. */
export const MAX_ATTEMPTS_KEPT = 50;
/** A delivery is kept this long after it was stored (store clock), then expires. */
export const DELIVERY_TTL_MS = 30 * 24 * 60 * 60 * 1000;
/** Outbox entries per readOutbox. */
export const MAX_OUTBOX_READ = 1_000;
/** Most pending-index entries one scanPendingDeliveries page looks at. */
export const MAX_PENDING_SCAN = 1_000;
/** Deliveries per listDeliveries page. */
export const MAX_DELIVERY_PAGE = 100;
/** The highest `maxPerClient` a caller may ask createEndpoint for. */
export const MAX_ENDPOINTS_CAP = 1_000;

export function isEventType(value: unknown): value is WebhookEventType {
  return typeof value === 'string' && (WEBHOOK_EVENT_TYPES as readonly string[]).includes(value);
}

export function isDeliveryState(value: unknown): value is DeliveryState {
  return typeof value === 'string' && (DELIVERY_STATES as readonly string[]).includes(value);
}

export function isOutboxState(value: unknown): value is OutboxState {
  return typeof value === 'string' && (OUTBOX_STATES as readonly string[]).includes(value);
}

/** An id the records keep: non-empty, bounded. */
export function webhookId(value: unknown, what: string): string {
  const id = nonEmpty(value, what);
  if (id.length > MAX_WEBHOOK_ID_CHARS) {
    throw new RangeError(`${what} must be at most ${MAX_WEBHOOK_ID_CHARS} characters`);
  }
  return id;
}

/** The endpoint as stored (a copy with a fixed field order); refuses a malformed one. */
export function validateEndpoint(endpoint: WebhookEndpoint): WebhookEndpoint {
  const url = endpoint.url;
  if (typeof url !== 'string' || Buffer.byteLength(url, 'utf8') > MAX_WEBHOOK_URL_BYTES) {
    throw new RangeError(`endpoint url must be a string of at most ${MAX_WEBHOOK_URL_BYTES} bytes`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RangeError('endpoint url is not an absolute URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new RangeError('endpoint url must be http or https');
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new RangeError('endpoint url must not carry user info');
  }
  const events = endpoint.events;
  if (!Array.isArray(events) || events.length === 0) {
    throw new RangeError('endpoint events must name at least one event type');
  }
  for (const event of events) {
    if (!isEventType(event)) throw new RangeError(`not a webhook event type: ${JSON.stringify(event)}`);
  }
  if (new Set(events).size !== events.length) throw new RangeError('endpoint events must not repeat');
  timeMs(endpoint.createdAt, 'endpoint createdAt');
  return {
    id: webhookId(endpoint.id, 'endpoint id'),
    clientId: webhookId(endpoint.clientId, 'endpoint clientId'),
    url,
    events: [...events],
    createdAt: endpoint.createdAt,
  };
}

export function validateMaxPerClient(maxPerClient: number): number {
  return validateLimit(maxPerClient, MAX_ENDPOINTS_CAP, 'endpoints per client');
}

/** The attempt as stored: a fixed field order, no `undefined` fields. */
export function validateAttempt(attempt: DeliveryAttempt): DeliveryAttempt {
  timeMs(attempt.at, 'attempt at');
  const record: { -readonly [K in keyof DeliveryAttempt]: DeliveryAttempt[K] } = {
    at: attempt.at,
    durationMs: wholeNumber(attempt.durationMs, 'attempt durationMs'),
  };
  if (attempt.status !== undefined) {
    if (!Number.isInteger(attempt.status) || attempt.status < 100 || attempt.status > 599) {
      throw new RangeError(`attempt status must be an HTTP status, got ${String(attempt.status)}`);
    }
    record.status = attempt.status;
  }
  if (attempt.error !== undefined) {
    record.error = boundedText(attempt.error, MAX_ATTEMPT_ERROR_CHARS, 'attempt error');
  }
  if (attempt.body !== undefined) {
    record.body = boundedText(attempt.body, MAX_ATTEMPT_BODY_CHARS, 'attempt body');
  }
  // In the order the type lists them, so both stores hand out identical objects.
  return {
    at: record.at,
    ...(record.status === undefined ? {} : { status: record.status }),
    ...(record.error === undefined ? {} : { error: record.error }),
    durationMs: record.durationMs,
    ...(record.body === undefined ? {} : { body: record.body }),
  };
}

function boundedText(value: unknown, max: number, what: string): string {
  if (typeof value !== 'string' || value.length > max) {
    throw new RangeError(`${what} must be a string of at most ${max} characters`);
  }
  return value;
}

export function validateDeliveryState(state: DeliveryState): DeliveryState {
  if (!isDeliveryState(state)) throw new RangeError(`not a delivery state: ${JSON.stringify(state)}`);
  return state;
}

/** A new delivery, checked: its creation and update times in ms, and its attempts as stored. */
export function validateDelivery(delivery: WebhookDelivery): {
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  readonly subject: WebhookDelivery['subject'];
  readonly attempts: readonly DeliveryAttempt[];
} {
  webhookId(delivery.id, 'delivery id');
  webhookId(delivery.endpointId, 'delivery endpointId');
  webhookId(delivery.clientId, 'delivery clientId');
  webhookId(delivery.eventId, 'delivery eventId');
  if (!isEventType(delivery.type)) throw new RangeError(`not a webhook event type: ${String(delivery.type)}`);
  validateDeliveryState(delivery.state);
  if (!Array.isArray(delivery.attempts)) throw new RangeError('delivery attempts must be an array');
  return {
    createdAtMs: timeMs(delivery.createdAt, 'delivery createdAt'),
    updatedAtMs: timeMs(delivery.updatedAt, 'delivery updatedAt'),
    subject: validateSubject(delivery.subject),
    attempts: delivery.attempts.slice(-MAX_ATTEMPTS_KEPT).map(validateAttempt),
  };
}

function validateSubject(subject: WebhookDelivery['subject']): WebhookDelivery['subject'] {
  if (typeof subject !== 'object' || subject === null) throw new RangeError('delivery subject is missing');
  if (subject.kind === 'order') {
    if (!Number.isSafeInteger(subject.version) || subject.version < 1) {
      throw new RangeError('delivery subject version must be a whole number >= 1');
    }
    return {
      kind: 'order',
      orderId: webhookId(subject.orderId, 'subject orderId'),
      version: subject.version,
    };
  }
  if (subject.kind === 'batch') {
    return { kind: 'batch', batchId: webhookId(subject.batchId, 'subject batchId') };
  }
  throw new RangeError('delivery subject kind must be order or batch');
}

/** A page of deliveries: a client's mistake is a 400, like the other lists' pages. */
export function validateDeliveryPage(page: { readonly limit: number; readonly after?: string | undefined }): {
  limit: number;
  after: string | undefined;
} {
  const { limit, after } = page;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_DELIVERY_PAGE) {
    throw new ValidationError([
      { field: 'limit', rule: 'range', message: `must be a whole number from 1 to ${MAX_DELIVERY_PAGE}` },
    ]);
  }
  if (
    after !== undefined &&
    (typeof after !== 'string' || after === '' || after.length > MAX_WEBHOOK_ID_CHARS)
  ) {
    throw notADeliveryCursor();
  }
  return { limit, after };
}

export function notADeliveryCursor(): ValidationError {
  return new ValidationError([
    {
      field: 'after',
      rule: 'cursor',
      message: "is not a delivery of this endpoint's list (any more); start again without it",
    },
  ]);
}

/** The outbox read limit: a programming error when out of range. */
export function validateOutboxLimit(limit: number): number {
  return validateLimit(limit, MAX_OUTBOX_READ, 'outbox read');
}

/** A pending-deliveries scan page: the limit (a programming error when out of range) and its time. */
export function validatePendingScan(
  updatedBefore: string,
  limit: number,
  cursor: string | undefined,
): { before: number; limit: number; after: StalePosition | undefined } {
  return {
    before: timeMs(updatedBefore, 'updatedBefore'),
    limit: validateLimit(limit, MAX_PENDING_SCAN, 'pending deliveries scan'),
    after: cursor === undefined ? undefined : decodeStaleCursor(cursor),
  };
}

/** The time part of a delivery's list key: fixed width, so byte order is time order. */
export function deliveryListKey(createdAtMs: number, idPart: string): string {
  return `${String(createdAtMs).padStart(15, '0')}:${idPart}`;
}

/** Endpoints oldest first; the id breaks ties so the order is the same in both stores. */
export function byCreation(a: WebhookEndpoint, b: WebhookEndpoint): number {
  return Date.parse(a.createdAt) - Date.parse(b.createdAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

// ---- decoding what the stores read back ----

function storedNumber(value: unknown, field: string, record: string): number {
  const n = typeof value === 'string' && value !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : corrupt(record, field, value);
}

export function decodeEndpoint(raw: Raw): WebhookEndpoint {
  const events = raw.events;
  if (!Array.isArray(events) || events.length === 0 || !events.every(isEventType)) {
    corrupt('webhook endpoint', 'events', events);
  }
  return {
    id: text(raw, 'webhook endpoint', 'id'),
    clientId: text(raw, 'webhook endpoint', 'clientId'),
    url: text(raw, 'webhook endpoint', 'url'),
    events: [...events],
    createdAt: text(raw, 'webhook endpoint', 'createdAt'),
  };
}

export function decodeAttempt(value: unknown): DeliveryAttempt {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return corrupt('delivery attempt', 'attempt', value);
  }
  const raw = value as Raw;
  const status = raw.status;
  if (status !== undefined && status !== null && (typeof status !== 'number' || !Number.isInteger(status))) {
    corrupt('delivery attempt', 'status', status);
  }
  const error = optionalText(raw, 'delivery attempt', 'error');
  const body = optionalText(raw, 'delivery attempt', 'body');
  return {
    at: text(raw, 'delivery attempt', 'at'),
    ...(typeof status === 'number' ? { status } : {}),
    ...(error === undefined ? {} : { error }),
    durationMs: storedNumber(raw.durationMs, 'durationMs', 'delivery attempt'),
    ...(body === undefined ? {} : { body }),
  };
}

function decodeSubject(value: unknown): WebhookDelivery['subject'] {
  if (typeof value !== 'object' || value === null) return corrupt('webhook delivery', 'subject', value);
  const raw = value as Raw;
  if (raw.kind === 'order') {
    const version = raw.version;
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
      corrupt('webhook delivery', 'subject.version', version);
    }
    return { kind: 'order', orderId: text(raw, 'webhook delivery', 'orderId'), version };
  }
  if (raw.kind === 'batch') return { kind: 'batch', batchId: text(raw, 'webhook delivery', 'batchId') };
  return corrupt('webhook delivery', 'subject.kind', raw.kind);
}

/**
 * A delivery's scalar fields (`subject` an object, `updatedAtMs` a number or its decimal string)
 * and its attempts, oldest first → WebhookDelivery.
 */
export function decodeDelivery(raw: Raw, attempts: readonly unknown[]): WebhookDelivery {
  const type = raw.type;
  if (!isEventType(type)) corrupt('webhook delivery', 'type', type);
  const state = raw.state;
  if (!isDeliveryState(state)) corrupt('webhook delivery', 'state', state);
  return {
    id: text(raw, 'webhook delivery', 'id'),
    endpointId: text(raw, 'webhook delivery', 'endpointId'),
    clientId: text(raw, 'webhook delivery', 'clientId'),
    eventId: text(raw, 'webhook delivery', 'eventId'),
    type,
    subject: decodeSubject(raw.subject),
    createdAt: text(raw, 'webhook delivery', 'createdAt'),
    state,
    attempts: attempts.map(decodeAttempt),
    updatedAt: new Date(storedNumber(raw.updatedAtMs, 'updatedAtMs', 'webhook delivery')).toISOString(),
  };
}

/** One outbox entry from its stored fields (`at` in ms, `version` a number or its decimal string). */
export function decodeOutboxEntry(raw: {
  readonly id: string;
  readonly clientId: unknown;
  readonly orderId: unknown;
  readonly version: unknown;
  readonly state: unknown;
  readonly atMs: unknown;
  readonly batchId?: unknown;
  readonly batchIds?: readonly unknown[] | undefined;
}): OutboxEntry {
  const record = 'webhook outbox entry';
  if (!isOutboxState(raw.state)) corrupt(record, 'state', raw.state);
  const version = storedNumber(raw.version, 'version', record);
  if (version < 1) corrupt(record, 'version', version);
  const entry: { -readonly [K in keyof OutboxEntry]: OutboxEntry[K] } = {
    id: raw.id,
    clientId: typeof raw.clientId === 'string' ? raw.clientId : corrupt(record, 'clientId', raw.clientId),
    orderId: typeof raw.orderId === 'string' ? raw.orderId : corrupt(record, 'orderId', raw.orderId),
    version,
    state: raw.state,
    at: new Date(storedNumber(raw.atMs, 'at', record)).toISOString(),
  };
  if (raw.batchId !== undefined && raw.batchId !== null && raw.batchId !== '') {
    entry.batchId = typeof raw.batchId === 'string' ? raw.batchId : corrupt(record, 'batchId', raw.batchId);
  }
  if (raw.batchIds !== undefined && raw.batchIds.length > 0) {
    entry.batchIds = raw.batchIds.map((id) =>
      typeof id === 'string' ? id : corrupt(record, 'batchIds', id),
    );
  }
  return entry;
}
