import type { Order } from '@rechargeflow/domain';
import { LedgerCorruptionError } from '../ledger-errors.ts';
import { runScript } from '../redis/lua.ts';
import type { RedisContext } from '../redis/redis-keys.ts';
import { flatToHash, parseStored, unexpected } from '../redis/replies.ts';
import { decodeOrder } from './order-record.ts';
import { READ_ORDERS } from './order-scripts.ts';

/** Reading Redis orders: a snapshot (order hash and history list, taken at one instant) → Order. */

export async function readOrders(ctx: RedisContext, keyIds: readonly string[]): Promise<(Order | null)[]> {
  if (keyIds.length === 0) return [];
  const { keys } = ctx;
  const scriptKeys = keyIds.flatMap((keyId) => [keys.order(keyId), keys.history(keyId)]);
  const reply = await runScript(ctx.redis, READ_ORDERS, scriptKeys, []);
  if (!Array.isArray(reply) || reply.length !== keyIds.length) unexpected('read-orders', reply);
  return reply.map((snapshot) => decodeSnapshot(snapshot));
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
  const hash = flatToHash(flat);
  const history = hash.hn === undefined ? listed : hashHistory(hash);
  return decodeOrder(
    {
      ...hash,
      request: parseJson(hash.request, 'request'),
      route: hash.route === undefined ? undefined : parseJson(hash.route, 'route'),
      reversal: hash.reversal === undefined ? undefined : parseJson(hash.reversal, 'reversal'),
      inFlight: hash.inFlight === '1' ? true : hash.inFlight === '0' ? false : hash.inFlight,
      attempts: Number(hash.attempts),
      statusChecks: optionalNumber(hash.statusChecks),
      pendingSinceMs: optionalNumber(hash.pendingSinceMs),
      nextCheckAtMs: optionalNumber(hash.nextCheckAtMs),
      version: Number(hash.version),
    },
    history,
  );
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
