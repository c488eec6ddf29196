import type { Redis } from 'ioredis';

/**
 * The longest field value Redis keeps in a hash's compact encoding (listpack) that an order needs:
 * its `request` JSON (≈70–200 bytes) is over Redis's default of 64, and one long value turns the
 * whole hash into a hashtable, ≈1.2 KB more per order (measured: 3.3 KB vs 2.2 KB per final order).
 */
export const ORDER_HASH_VALUE_BYTES = 512;

/** What the ledger found of `hash-max-listpack-value`, and whether it raised it. */
export interface CompactHashes {
  /** The value before; null when CONFIG is refused (ACL, managed Redis) or says nothing. */
  readonly was: number | null;
  readonly raised: boolean;
}

/**
 * Raises `hash-max-listpack-value` to ORDER_HASH_VALUE_BYTES where it is lower and CONFIG is
 * allowed (only memory and a few microseconds per hash access change; no behaviour). Not
 * persisted by Redis: redis.conf should say it too (docs/operations.md); start-up checks again.
 */
export async function ensureCompactHashes(redis: Redis): Promise<CompactHashes> {
  let was: number | null = null;
  try {
    const reply: unknown = await redis.config('GET', 'hash-max-listpack-value');
    const value = Array.isArray(reply)
      ? reply[1]
      : typeof reply === 'object' && reply !== null
        ? (reply as Record<string, unknown>)['hash-max-listpack-value']
        : undefined;
    was = value === undefined ? null : Number(value);
    if (was === null || !Number.isFinite(was)) return { was: null, raised: false };
    if (was >= ORDER_HASH_VALUE_BYTES) return { was, raised: false };
    await redis.config('SET', 'hash-max-listpack-value', String(ORDER_HASH_VALUE_BYTES));
    return { was, raised: true };
  } catch {
    return { was, raised: false };
  }
}
