import type { Order } from '@rechargeflow/domain';
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
 * A flat HGETALL of an order and its history entries (already parsed) → Order. The transition
 * script answers only the hash when the caller knows the history (see TRANSITION).
 */
export function decodeParts(flat: unknown, history: readonly unknown[]): Order {
  if (!Array.isArray(flat) || flat.length === 0) return unexpected('ledger', flat);
  const hash = flatToHash(flat);
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

export function parseJson(value: unknown, field: string): unknown {
  return parseStored(value, `stored order has an invalid ${field}`);
}
