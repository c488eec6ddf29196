import type { RedisContext } from '../redis/redis-keys.ts';

/** How long a process believes a client it registered is still in the registry. */
export const CLIENT_REGISTRY_RENEW_MS = 60_000;
/** Clients remembered per process; past this the memory is dropped and each client added again. */
const REMEMBERED_CLIENTS = 10_000;

/**
 * Keeps `P:clients` (every client that has orders, redis-keys.ts) a superset of the clients in the
 * order lists, for the summaries that walk each client's list. A client is added before its first
 * order of the process is written (so never an order without its client), and again at most once
 * a minute (a Redis that lost its data has it back within a minute): ~0 commands per order, where
 * a list of every order by creation cost one ZADD and ~160 bytes per order.
 */
export function clientRegistry(ctx: RedisContext, renewMs = CLIENT_REGISTRY_RENEW_MS) {
  const addedAt = new Map<string, number>();
  return async function register(clientIds: Iterable<string>): Promise<void> {
    const now = Date.now();
    const due = new Set<string>();
    for (const clientId of clientIds) {
      const at = addedAt.get(clientId);
      if (at === undefined || now - at >= renewMs) due.add(clientId);
    }
    if (due.size === 0) return;
    await ctx.redis.sadd(ctx.keys.clients, ...due);
    if (addedAt.size + due.size > REMEMBERED_CLIENTS) addedAt.clear();
    for (const clientId of due) addedAt.set(clientId, now);
  };
}
