import {
  type HistoryEntry,
  isOrderState,
  type Order,
  type OrderState,
  paise,
  type RechargeRequest,
  type Reversal,
  TRANSITION_SOURCES,
  type TransitionSource,
} from '@rechargeflow/domain';
import { LedgerCorruptionError } from './ledger-errors.ts';

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

export function decodeRequest(value: unknown): RechargeRequest {
  const raw = record(value, 'request');
  const amount = raw.amount;
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 0)
    corrupt('request.amount', amount);
  const request: { -readonly [K in keyof RechargeRequest]: RechargeRequest[K] } = {
    operator: text(raw, 'operator'),
    number: text(raw, 'number'),
    amount: paise(amount),
  };
  const circle = optionalText(raw, 'circle');
  const value1 = optionalText(raw, 'value1');
  const value2 = optionalText(raw, 'value2');
  if (circle !== undefined) request.circle = circle;
  if (value1 !== undefined) request.value1 = value1;
  if (value2 !== undefined) request.value2 = value2;
  return request;
}

function isSource(value: unknown): value is TransitionSource {
  return typeof value === 'string' && (TRANSITION_SOURCES as readonly string[]).includes(value);
}

export function decodeHistoryEntry(value: unknown): HistoryEntry {
  const raw = record(value, 'history');
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
 * `pendingSinceMs`/`nextCheckAtMs` as numbers); `request`, `reversal` and `history` are decoded
 * here. `statusChecks` may be absent (orders written before it existed): that is 0.
 */
export function decodeOrder(raw: Raw, history: readonly unknown[]): Order {
  if (typeof raw.inFlight !== 'boolean') corrupt('inFlight', raw.inFlight);
  const order: { -readonly [K in keyof Order]: Order[K] } = {
    clientId: text(raw, 'clientId'),
    orderId: text(raw, 'orderId'),
    providerOrderId: text(raw, 'providerOrderId'),
    provider: text(raw, 'provider'),
    request: decodeRequest(raw.request),
    fingerprint: text(raw, 'fingerprint'),
    state: state(raw.state, 'state'),
    inFlight: raw.inFlight,
    attempts: count(raw.attempts, 'attempts'),
    statusChecks: raw.statusChecks === undefined ? 0 : count(raw.statusChecks, 'statusChecks'),
    createdAt: text(raw, 'createdAt'),
    updatedAt: text(raw, 'updatedAt'),
    version: count(raw.version, 'version'),
    history: history.map(decodeHistoryEntry),
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
