import {
  assertTransition,
  type HistoryEntry,
  type OrderKey,
  type OrderState,
  orderKeyId,
  ValidationError,
} from '@rechargeflow/domain';
import type { ListOrdersQuery, TransitionCommand } from './ledger-store.ts';

/** Helpers shared by both implementations, so that they agree on ordering, paging and history. */

export const MAX_LIST_LIMIT = 500;
export const MAX_STALE_LIMIT = 1_000;

/** Epoch milliseconds of a caller-supplied ISO time; refuses anything that is not a time. */
export function timeMs(iso: string, what: string): number {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms) || ms < 0)
    throw new RangeError(`${what} is not an ISO time: ${JSON.stringify(iso)}`);
  return ms;
}

/**
 * The sort key of an order in its client's list: creation time, then the key id as a tie-break.
 * Fixed width, so byte order is time order; unique, so a cursor on it never skips or repeats.
 */
export function listKey(key: OrderKey, createdAt: string): string {
  return `${String(timeMs(createdAt, 'createdAt')).padStart(15, '0')}:${orderKeyId(key)}`;
}

const LIST_KEY_PATTERN = /^\d{15}:[0-9a-f]{32}$/;

export function encodeCursor(lastListKey: string): string {
  return Buffer.from(lastListKey, 'utf8').toString('base64url');
}

/** The list key the next page starts strictly after; a cursor that is not ours is a 400. */
export function decodeCursor(cursor: string): string {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!LIST_KEY_PATTERN.test(decoded)) {
    throw new ValidationError([
      {
        field: 'cursor',
        rule: 'cursor',
        message: 'is not a cursor from a previous page; start again without it',
      },
    ]);
  }
  return decoded;
}

export function validateListQuery(query: ListOrdersQuery): { limit: number; after: string | undefined } {
  const { limit } = query;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new ValidationError([
      { field: 'limit', rule: 'range', message: `must be a whole number from 1 to ${MAX_LIST_LIMIT}` },
    ]);
  }
  return { limit, after: query.cursor === undefined ? undefined : decodeCursor(query.cursor) };
}

export function validateStaleLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_STALE_LIMIT) {
    throw new RangeError(`findStale limit must be a whole number from 1 to ${MAX_STALE_LIMIT}, got ${limit}`);
  }
  return limit;
}

/**
 * Refuses an illegal transition before anything is written. `to === expect.state` is an event
 * (e.g. a send attempt), not a state change, and is always allowed.
 */
export function assertCommand(command: TransitionCommand): void {
  if (command.to !== command.expect.state) assertTransition(command.expect.state, command.to);
  timeMs(command.entry.at, 'entry.at');
}

/** A history entry with a fixed field order and no `undefined` fields, identical in both stores. */
export function historyEntry(
  from: OrderState | null,
  to: OrderState,
  entry: TransitionCommand['entry'],
): HistoryEntry {
  const result: { -readonly [K in keyof HistoryEntry]: HistoryEntry[K] } = {
    at: entry.at,
    from,
    to,
    source: entry.source,
  };
  if (entry.note !== undefined) result.note = entry.note;
  if (entry.providerStatus !== undefined) result.providerStatus = entry.providerStatus;
  if (entry.actor !== undefined) result.actor = entry.actor;
  return result;
}

/** The entry written with every new order. */
export function creationEntry(now: string): HistoryEntry {
  return historyEntry(null, 'queued', { at: now, source: 'api', note: 'order accepted' });
}
