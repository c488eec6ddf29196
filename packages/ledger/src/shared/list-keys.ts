import { type OrderKey, orderKeyId } from '@rechargeflow/domain';
import { timeMs } from './time.ts';

/**
 * List keys: the sort keys of orders and batches in their lists, the same in both stores. A list
 * key is the creation time (fixed width, so byte order is time order), `:`, then a unique id, so a
 * cursor on it never skips or repeats.
 */

/**
 * The sort key of an order in its client's list: creation time, then the key id as a tie-break.
 * Fixed width, so byte order is time order; unique, so a cursor on it never skips or repeats.
 */
export function listKey(key: OrderKey, createdAt: string): string {
  return listKeyOf(orderKeyId(key), timeMs(createdAt, 'createdAt'));
}

/** `listKey` from an already computed key id and creation time (bulk creation hashes each key once). */
export function listKeyOf(keyId: string, createdAtMs: number): string {
  return `${timePrefix(createdAtMs)}${keyId}`;
}

/** The fixed-width time part of a list key, up to and including its `:`. */
function timePrefix(ms: number): string {
  return `${String(ms).padStart(15, '0')}:`;
}

/**
 * List-key bounds of orders created in [from, to): `lower <= listKey < upper`. Every list key
 * starts with its creation time, so this is the creation-time window, to the millisecond.
 */
export function createdWindow(from: string, to: string): { lower: string; upper: string } {
  return { lower: timePrefix(timeMs(from, 'from')), upper: timePrefix(timeMs(to, 'to')) };
}

/** The key id of an order list key. */
export function keyIdOfListKey(member: string): string {
  return member.slice(member.indexOf(':') + 1);
}

/**
 * The sort key of a batch in its client's list: creation time (fixed width), then the batch id.
 * Byte order is creation order, and a cursor on it never skips or repeats.
 */
export function batchListKey(batchId: string, createdAtMs: number): string {
  return `${timePrefix(createdAtMs)}${batchId}`;
}

/** The batch id of a batch list key. */
export function batchIdOfListKey(member: string): string {
  return member.slice(member.indexOf(':') + 1);
}
