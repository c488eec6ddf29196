import type { Order } from '@rechargeflow/domain';
import { LedgerCorruptionError } from '../ledger-errors.ts';
import { runScript } from '../redis/lua.ts';
import type { RedisContext } from '../redis/redis-keys.ts';
import { flatToHash, parseStored, record, unexpected } from '../redis/replies.ts';
import { decodeOrder } from './order-record.ts';
import { READ_ORDERS, TRANSITION_READ } from './order-scripts.ts';

/** Reading Redis orders: the order hash (and, before layout 3, its history list, both at one instant) → Order. */

export async function readOrders(ctx: RedisContext, keyIds: readonly string[]): Promise<(Order | null)[]> {
  if (keyIds.length === 0) return [];
  const { keys, redis } = ctx;
  // Since layout 3 an order is one hash, history included: HGETALL reads it whole and atomically
  // (one command instead of a script running two). An order written before keeps its history in
  // a list, and is read again with the script that takes both at one instant.
  const replies = await readHashes(ctx, keyIds);
  const orders: (Order | null)[] = [];
  const older: number[] = [];
  keyIds.forEach((_, i) => {
    const [error, hash] = replies[i] ?? [new Error('no reply'), null];
    if (error) throw error;
    const fields = record(hash);
    if (Object.keys(fields).length === 0) orders.push(null);
    else if (fields.hn === undefined) {
      older.push(i);
      orders.push(null);
    } else orders.push(decodeHash(fields, []));
  });
  if (older.length > 0) {
    const scriptKeys = older.flatMap((i) => [keys.order(keyIds[i] ?? ''), keys.history(keyIds[i] ?? '')]);
    const reply = await runScript(redis, READ_ORDERS, scriptKeys, []);
    if (!Array.isArray(reply) || reply.length !== older.length) unexpected('read-orders', reply);
    older.forEach((index, j) => {
      orders[index] = decodeSnapshot(reply[j]);
    });
  }
  return orders;
}

async function readHashes(ctx: RedisContext, keyIds: readonly string[]): Promise<[Error | null, unknown][]> {
  const { keys, redis } = ctx;
  // One order (the worker's read, GET by id): a plain command, auto-pipelined by the client.
  if (keyIds.length === 1) return [[null, await redis.hgetall(keys.order(keyIds[0] ?? ''))]];
  const pipeline = redis.pipeline();
  for (const keyId of keyIds) pipeline.hgetall(keys.order(keyId));
  return (await pipeline.exec()) ?? [];
}

export async function readOrder(ctx: RedisContext, keyId: string): Promise<Order | null> {
  const [order] = await readOrders(ctx, [keyId]);
  return order ?? null;
}

export function requireOrder(snapshot: unknown): Order {
  return decodeSnapshot(snapshot) ?? unexpected('ledger', snapshot);
}

/** A stored number field; absent stays absent (fields added after the order was written). */
function optionalNumber(value: unknown): unknown {
  return value === undefined ? undefined : Number(value);
}

/** `{flat HGETALL, history list}` → Order; an empty hash is a missing order. */
function decodeSnapshot(snapshot: unknown): Order | null {
  if (!Array.isArray(snapshot)) return unexpected('ledger', snapshot);
  const [flat, history] = snapshot as unknown[];
  if (!Array.isArray(flat) || !Array.isArray(history)) return unexpected('ledger', snapshot);
  if (flat.length === 0) return null;
  return decodeParts(
    flat,
    history.map((entry) => parseJson(entry, 'history')),
  );
}

/**
 * A flat HGETALL of an order and its history list's entries (already parsed) → Order. An order
 * written since layout 3 has `hn` and its history in `h1`..`hN` of the hash, and no list.
 */
export function decodeParts(flat: unknown, listed: readonly unknown[]): Order {
  if (!Array.isArray(flat) || flat.length === 0) return unexpected('ledger', flat);
  return decodeHash(flatToHash(flat), listed);
}

/** An order's hash (field → value) and its history list's parsed entries → Order. */
function decodeHash(hash: Record<string, unknown>, listed: readonly unknown[]): Order {
  const history = hash.hn === undefined ? listed : hashHistory(hash);
  return decodeOrder({ ...hashFields(hash), request: parseJson(hash.request, 'request') }, history);
}

/** The stored fields but `request` in decodeOrder's types (numbers, booleans, parsed JSON). */
function hashFields(hash: Record<string, unknown>): Record<string, unknown> {
  return {
    ...hash,
    route: hash.route === undefined ? undefined : parseJson(hash.route, 'route'),
    reversal: hash.reversal === undefined ? undefined : parseJson(hash.reversal, 'reversal'),
    inFlight: hash.inFlight === '1' ? true : hash.inFlight === '0' ? false : hash.inFlight,
    attempts: Number(hash.attempts),
    statusChecks: optionalNumber(hash.statusChecks),
    pendingSinceMs: optionalNumber(hash.pendingSinceMs),
    nextCheckAtMs: optionalNumber(hash.nextCheckAtMs),
    version: Number(hash.version),
  };
}

/**
 * The order a transition answered `applied_known` for: `read` is TRANSITION_READ's values before
 * the write (every field that can change after creation), `written` the field/value pairs it
 * wrote, `known` the order as the caller read it (the same history but for `entry`): its request,
 * fingerprint, createdAt and history are all that is taken from it, and none of them ever changes
 * but by appending, which the script ruled out (the history's length was as the caller's).
 */
export function decodeKnown(
  known: Order,
  read: unknown,
  written: unknown,
  entry: unknown,
  leftChecks: boolean,
): Order {
  if (!Array.isArray(read) || read.length !== TRANSITION_READ.length || !Array.isArray(written)) {
    return unexpected('transition', read);
  }
  const hash: Record<string, unknown> = {};
  TRANSITION_READ.forEach((field, i) => {
    const value: unknown = read[i];
    if (value !== null && value !== undefined) hash[field] = value;
  });
  for (let i = 0; i + 1 < written.length; i += 2) hash[String(written[i])] = written[i + 1];
  if (leftChecks) delete hash.nextCheckAtMs;
  const fields = hashFields(hash);
  // Absent when it is the request's own: decodeOrder computes it again (order-record.ts).
  fields.fingerprint = known.fingerprint;
  fields.createdAt = known.createdAt;
  fields.request = known.request;
  return decodeOrder(fields, [...known.history, entry]);
}

/** Whether a flat HGETALL is of an order that keeps its history in its hash (layout 3). */
export function holdsHistory(flat: unknown): boolean {
  if (!Array.isArray(flat)) return false;
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === 'hn') return true;
  return false;
}

/** The history an order keeps in its hash: `h1`..`hN`, oldest first, N = `hn`. */
function hashHistory(hash: Record<string, unknown>): unknown[] {
  const n = Number(hash.hn);
  if (!Number.isSafeInteger(n) || n < 1) throw new LedgerCorruptionError('stored order has an invalid hn');
  return Array.from({ length: n }, (_, i) => parseJson(hash[`h${i + 1}`], 'history'));
}

export function parseJson(value: unknown, field: string): unknown {
  return parseStored(value, `stored order has an invalid ${field}`);
}
