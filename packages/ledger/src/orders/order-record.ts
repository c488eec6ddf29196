import {
  type HistoryEntry,
  isOrderState,
  type Order,
  type OrderState,
  paise,
  type RechargeRequest,
  type Reversal,
  requestFingerprint,
  TELGOO5_TOPUP_TYPES,
  type Telgoo5Order,
  TRANSITION_SOURCES,
  type TransitionSource,
} from '@rechargeflow/domain';
import { LedgerCorruptionError } from '../ledger-errors.ts';
import { historyEntryFields } from './history-encoding.ts';
import type { NewOrder } from './new-order.ts';

/**
 * Turns what a store read back into a domain `Order`: checks every field, drops storage-only
 * fields, and leaves absent optionals absent (never `undefined` or `null`), so both stores hand out
 * identical objects.
 */

type Raw = Readonly<Record<string, unknown>>;

function corrupt(what: string, value: unknown): never {
  throw new LedgerCorruptionError(`stored order has an invalid ${what}`, {
    context: { field: what, type: typeof value },
  });
}

function text(raw: Raw, field: string): string {
  const value = raw[field];
  return typeof value === 'string' ? value : corrupt(field, value);
}

function optionalText(raw: Raw, field: string): string | undefined {
  const value = raw[field];
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : corrupt(field, value);
}

function state(value: unknown, field: string): OrderState {
  return isOrderState(value) ? value : corrupt(field, value);
}

function count(value: unknown, field: string): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    ? value
    : corrupt(field, value);
}

function record(value: unknown, field: string): Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Raw)
    : corrupt(field, value);
}

/** How a bad field is reported: corruption when read back, RangeError before anything is written. */
type Fail = (field: string, value: unknown) => never;

function refuse(field: string, value: unknown): never {
  throw new RangeError(`new order has an invalid ${field} (${value === null ? 'null' : typeof value})`);
}

function plainObject(value: unknown, field: string, fail: Fail): Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Raw)
    : fail(field, value);
}

/** Absent (`undefined`, or `null` where `nullable`) is undefined; a string is kept; anything else fails. */
function optionalString(
  raw: Raw,
  field: string,
  path: string,
  fail: Fail,
  nullable: boolean,
): string | undefined {
  const value = raw[field];
  if (value === undefined || (nullable && value === null)) return undefined;
  return typeof value === 'string' ? value : fail(path, value);
}

function requiredString(raw: Raw, field: string, path: string, fail: Fail): string {
  const value = raw[field];
  return typeof value === 'string' && value !== '' ? value : fail(path, value);
}

/**
 * Every field of a request, and of its Telgoo5 part, as the domain defines them: a field added
 * there fails to compile here until the ledger stores it.
 */
const REQUEST_FIELDS: readonly string[] = Object.keys({
  operator: true,
  circle: true,
  number: true,
  amount: true,
  value1: true,
  value2: true,
  telgoo5: true,
} satisfies Record<keyof RechargeRequest, true>);

const TELGOO5_OPTIONAL = [
  'planCode',
  'planId',
  'paymentToken',
  'customerToken',
  'billingZip',
  'billingAddress1',
  'billingAddress2',
] as const satisfies readonly (keyof Telgoo5Order)[];

const TELGOO5_FIELDS: readonly string[] = Object.keys({
  enrollmentId: true,
  planCode: true,
  planId: true,
  topupType: true,
  paymentToken: true,
  customerToken: true,
  billingState: true,
  billingCity: true,
  billingZip: true,
  billingAddress1: true,
  billingAddress2: true,
} satisfies Record<keyof Telgoo5Order, true>);

/**
 * The shape only (business rules such as "planCode or planId" are the API's). A key the domain
 * does not define is refused, not dropped: the fingerprint covers every key of the object, and
 * nothing unknown (raw card data least of all) is ever stored or handed out. For the same reason a
 * new order's key set to `undefined` is refused: the fingerprint counts it (as null), storage
 * cannot keep it, so the request read back would no longer match its fingerprint.
 */
function readTelgoo5(value: unknown, fail: Fail, strict: boolean): Telgoo5Order {
  const raw = plainObject(value, 'request.telgoo5', fail);
  for (const [key, field] of Object.entries(raw)) {
    if (strict && field === undefined) fail(`request.telgoo5.${key}`, field);
    if (field !== undefined && !TELGOO5_FIELDS.includes(key)) fail(`request.telgoo5.${key}`, field);
  }
  const topupType = raw.topupType;
  if (typeof topupType !== 'string' || !(TELGOO5_TOPUP_TYPES as readonly string[]).includes(topupType)) {
    fail('request.telgoo5.topupType', topupType);
  }
  const telgoo5: { -readonly [K in keyof Telgoo5Order]: Telgoo5Order[K] } = {
    enrollmentId: requiredString(raw, 'enrollmentId', 'request.telgoo5.enrollmentId', fail),
    topupType: topupType as Telgoo5Order['topupType'],
    billingState: requiredString(raw, 'billingState', 'request.telgoo5.billingState', fail),
    billingCity: requiredString(raw, 'billingCity', 'request.telgoo5.billingCity', fail),
  };
  for (const field of TELGOO5_OPTIONAL) {
    // No `null`: the fingerprint tells `null` from absent, and storing would not.
    const text = optionalString(raw, field, `request.telgoo5.${field}`, fail, false);
    if (text !== undefined) telgoo5[field] = text;
  }
  return telgoo5;
}

/**
 * `strict` (before a write): a request field the ledger does not know is refused, so a field added
 * to the domain later cannot be dropped silently on its way into the ledger.
 */
function readRequest(value: unknown, fail: Fail, strict: boolean): RechargeRequest {
  const raw = plainObject(value, 'request', fail);
  if (strict) {
    for (const [key, field] of Object.entries(raw)) {
      if (field !== undefined && !REQUEST_FIELDS.includes(key)) fail(`request.${key}`, field);
    }
  }
  const amount = raw.amount;
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 0)
    fail('request.amount', amount);
  const operator = raw.operator;
  const number = raw.number;
  const request: { -readonly [K in keyof RechargeRequest]: RechargeRequest[K] } = {
    operator: typeof operator === 'string' ? operator : fail('request.operator', operator),
    number: typeof number === 'string' ? number : fail('request.number', number),
    // Paise, or cents for Telgoo5 orders: a whole number of the smallest unit either way.
    amount: paise(amount),
  };
  for (const field of ['circle', 'value1', 'value2'] as const) {
    const text = optionalString(raw, field, `request.${field}`, fail, true);
    if (text !== undefined) request[field] = text;
  }
  if (raw.telgoo5 !== undefined && raw.telgoo5 !== null)
    request.telgoo5 = readTelgoo5(raw.telgoo5, fail, strict);
  return request;
}

export function decodeRequest(value: unknown): RechargeRequest {
  return readRequest(value, corrupt, false);
}

/**
 * What a store writes for a new order: the request checked as it will be read back (a copy without
 * `undefined` fields), and the route (default `[provider]`, else led by `provider`). Rejects with
 * `RangeError` before anything is written: a record the decoder would refuse is never stored.
 */
export function newOrderRecord(order: NewOrder): { request: RechargeRequest; route: string[] } {
  if (typeof order.provider !== 'string' || order.provider === '') refuse('provider', order.provider);
  const route = order.route ?? [order.provider];
  if (!Array.isArray(route) || route.length === 0) refuse('route', route);
  for (const provider of route) {
    if (typeof provider !== 'string' || provider === '') refuse('route', provider);
  }
  if (route[0] !== order.provider) {
    throw new RangeError(
      `new order's provider ${order.provider} must be the first of its route [${route.join(', ')}]`,
    );
  }
  return { request: readRequest(order.request, refuse, true), route: [...route] };
}

/** Orders stored before routes existed went to one provider: their route is `[provider]`. */
function decodeRoute(value: unknown, provider: string): string[] {
  if (value === undefined || value === null) return [provider];
  if (!Array.isArray(value) || value.length === 0) corrupt('route', value);
  return value.map((each) => (typeof each === 'string' && each !== '' ? each : corrupt('route', each)));
}

function isSource(value: unknown): value is TransitionSource {
  return typeof value === 'string' && (TRANSITION_SOURCES as readonly string[]).includes(value);
}

/**
 * The route as the Redis ledger stores it: '' (no field) when it is just the order's provider,
 * which reads back as `[provider]` (as orders written before routes do); else its JSON.
 */
export function storedRoute(routeJson: string, provider: string): string {
  return routeJson === JSON.stringify([provider]) ? '' : routeJson;
}

/**
 * The fingerprint as the Redis ledger stores it: '' (no field) when it is the one the stored
 * request hashes to, which is what every caller sends (read back, it is computed again: 66 bytes
 * less per order); any other value is stored as sent.
 */
export function storedFingerprint(fingerprint: string, request: RechargeRequest): string {
  return fingerprint === requestFingerprint(request) ? '' : fingerprint;
}

export function decodeHistoryEntry(value: unknown): HistoryEntry {
  // The Redis ledger stores entries as arrays (history-encoding.ts); older ones and MongoDB's as objects.
  const raw = Array.isArray(value) ? historyEntryFields(value) : record(value, 'history');
  const from = raw.from === null || raw.from === undefined ? null : state(raw.from, 'history.from');
  const entry: { -readonly [K in keyof HistoryEntry]: HistoryEntry[K] } = {
    at: text(raw, 'at'),
    from,
    to: state(raw.to, 'history.to'),
    source: isSource(raw.source) ? raw.source : corrupt('history.source', raw.source),
  };
  const note = optionalText(raw, 'note');
  const providerStatus = optionalText(raw, 'providerStatus');
  const actor = optionalText(raw, 'actor');
  if (note !== undefined) entry.note = note;
  if (providerStatus !== undefined) entry.providerStatus = providerStatus;
  if (actor !== undefined) entry.actor = actor;
  return entry;
}

function decodeReversal(value: unknown): Reversal {
  const raw = record(value, 'reversal');
  const amount = raw.amount;
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 0)
    corrupt('reversal.amount', amount);
  const reversal: { -readonly [K in keyof Reversal]: Reversal[K] } = {
    amount: paise(amount),
    at: text(raw, 'at'),
  };
  const providerRef = optionalText(raw, 'providerRef');
  const callbackId = optionalText(raw, 'callbackId');
  if (providerRef !== undefined) reversal.providerRef = providerRef;
  if (callbackId !== undefined) reversal.callbackId = callbackId;
  return reversal;
}

/** A store-clock time kept as epoch milliseconds, handed out as ISO. */
function optionalMsTime(raw: Raw, field: string): string | undefined {
  const value = raw[field];
  if (value === undefined || value === null) return undefined;
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
    ? new Date(value).toISOString()
    : corrupt(field, value);
}

/**
 * `raw` holds the order's scalar fields already in their JS types (`inFlight` boolean, counts and
 * `pendingSinceMs`/`nextCheckAtMs` as numbers, `route` an array); `request`, `reversal` and
 * `history` are decoded here. Fields added later may be absent on older orders: `statusChecks` is
 * then 0, `route` is `[provider]`. The Redis ledger leaves out what it can compute (layout 4): no
 * `fingerprint` is the stored request's, no `createdAt` is the first history entry's `at`.
 */
export function decodeOrder(raw: Raw, history: readonly unknown[]): Order {
  if (typeof raw.inFlight !== 'boolean') corrupt('inFlight', raw.inFlight);
  const request = decodeRequest(raw.request);
  const entries = history.map(decodeHistoryEntry);
  const order: { -readonly [K in keyof Order]: Order[K] } = {
    clientId: text(raw, 'clientId'),
    orderId: text(raw, 'orderId'),
    providerOrderId: text(raw, 'providerOrderId'),
    provider: text(raw, 'provider'),
    route: decodeRoute(raw.route, text(raw, 'provider')),
    request,
    fingerprint: raw.fingerprint === undefined ? requestFingerprint(request) : text(raw, 'fingerprint'),
    state: state(raw.state, 'state'),
    inFlight: raw.inFlight,
    attempts: count(raw.attempts, 'attempts'),
    statusChecks: raw.statusChecks === undefined ? 0 : count(raw.statusChecks, 'statusChecks'),
    // Not stored since layout 4: the first history entry (the creation) is at createdAt.
    createdAt:
      raw.createdAt === undefined && entries[0] !== undefined ? entries[0].at : text(raw, 'createdAt'),
    updatedAt: text(raw, 'updatedAt'),
    version: count(raw.version, 'version'),
    history: entries,
  };
  const providerTxId = optionalText(raw, 'providerTxId');
  const providerRef = optionalText(raw, 'providerRef');
  const providerStatus = optionalText(raw, 'providerStatus');
  const pendingSince = optionalMsTime(raw, 'pendingSinceMs');
  const nextCheckAt = optionalMsTime(raw, 'nextCheckAtMs');
  const batchId = optionalText(raw, 'batchId');
  if (providerTxId !== undefined) order.providerTxId = providerTxId;
  if (providerRef !== undefined) order.providerRef = providerRef;
  if (providerStatus !== undefined) order.providerStatus = providerStatus;
  if (pendingSince !== undefined) order.pendingSince = pendingSince;
  if (nextCheckAt !== undefined) order.nextCheckAt = nextCheckAt;
  if (raw.reversal !== undefined && raw.reversal !== null) order.reversal = decodeReversal(raw.reversal);
  if (batchId !== undefined) order.batchId = batchId;
  return order;
}

/**
 * A new order exactly as a store reads it back once written (bulk creation answers without reading
 * every new order again): state `queued`, version 1, `entry` its one history entry.
 */
export function createdOrder(
  order: NewOrder,
  record: { readonly request: RechargeRequest; readonly route: readonly string[] },
  entry: HistoryEntry,
): Order {
  return decodeOrder(
    {
      clientId: order.clientId,
      orderId: order.orderId,
      providerOrderId: order.providerOrderId,
      provider: order.provider,
      route: record.route,
      request: record.request,
      fingerprint: order.fingerprint,
      state: 'queued',
      inFlight: false,
      attempts: 0,
      statusChecks: 0,
      batchId: order.batchId,
      createdAt: order.now,
      updatedAt: order.now,
      version: 1,
    },
    [entry],
  );
}
