import { ValidationError } from '@rechargeflow/domain';

/**
 * Page limits and cursors of the lists (orders and batches, newest first) and of the stale scan,
 * the same in both stores. A cursor is opaque to callers; one the store did not make is a 400.
 */

export const MAX_LIST_LIMIT = 500;

const LIST_KEY_PATTERN = /^\d{15}:[0-9a-f]{32}$/;
const BATCH_LIST_KEY_PATTERN = /^\d{15}:[\s\S]+$/;

export function encodeCursor(lastListKey: string): string {
  return Buffer.from(lastListKey, 'utf8').toString('base64url');
}

/** The list key the next page starts strictly after; a cursor that is not ours is a 400. */
export function decodeCursor(cursor: string): string {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!LIST_KEY_PATTERN.test(decoded)) throw notACursor();
  return decoded;
}

/** A page of a client's orders: the limit (1..500) and the list key the page starts after. */
export function validateListQuery(query: { readonly limit: number; readonly cursor?: string | undefined }): {
  limit: number;
  after: string | undefined;
} {
  const limit = pageLimit(query.limit, MAX_LIST_LIMIT);
  return { limit, after: query.cursor === undefined ? undefined : decodeCursor(query.cursor) };
}

/** A page of a client's batches, like validateListQuery (a batch id is any text). */
export function validateBatchListQuery(
  query: { readonly limit: number; readonly cursor?: string | undefined },
  maxLimit: number,
): { limit: number; after: string | undefined } {
  const limit = pageLimit(query.limit, maxLimit);
  if (query.cursor === undefined) return { limit, after: undefined };
  const decoded = Buffer.from(query.cursor, 'base64url').toString('utf8');
  if (!BATCH_LIST_KEY_PATTERN.test(decoded)) throw notACursor();
  return { limit, after: decoded };
}

function pageLimit(limit: number, max: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new ValidationError([
      { field: 'limit', rule: 'range', message: `must be a whole number from 1 to ${max}` },
    ]);
  }
  return limit;
}

function notACursor(): ValidationError {
  return new ValidationError([
    {
      field: 'cursor',
      rule: 'cursor',
      message: 'is not a cursor from a previous page; start again without it',
    },
  ]);
}

/** A stale-scan position: the last order's change time and its tie-breaker in the store's order. */
export interface StalePosition {
  readonly ms: number;
  readonly tie: string;
}

const STALE_CURSOR_PATTERN = /^s:(\d{1,15}):(.{1,512})$/s;

export function encodeStaleCursor(position: StalePosition): string {
  return Buffer.from(`s:${position.ms}:${position.tie}`, 'utf8').toString('base64url');
}

/** The position the next page starts strictly after; a cursor that is not ours is refused. */
export function decodeStaleCursor(cursor: string): StalePosition {
  const match = STALE_CURSOR_PATTERN.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw notACursor();
  return { ms: Number(match[1]), tie: match[2]! };
}
