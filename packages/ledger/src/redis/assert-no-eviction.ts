import type { Redis } from 'ioredis';
import { LedgerConfigurationError } from '../ledger-errors.ts';

/**
 * A ledger that Redis may evict is not a ledger: refuse anything but `noeviction`. Falls back to
 * INFO where CONFIG is disabled (managed Redis).
 */
export async function assertNoEviction(redis: Redis): Promise<void> {
  let policy: string | undefined;
  try {
    const reply: unknown = await redis.config('GET', 'maxmemory-policy');
    policy = Array.isArray(reply)
      ? String(reply[1] ?? '')
      : typeof reply === 'object' && reply !== null
        ? String((reply as Record<string, unknown>)['maxmemory-policy'] ?? '')
        : undefined;
  } catch (error) {
    // A refused or renamed CONFIG answers ERR/NOPERM: ask INFO instead; anything else is real.
    if (!/\b(ERR|NOPERM)\b/.test(String(error))) throw error;
  }
  if (!policy) {
    const info = await redis.info('memory');
    policy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
  }
  if (policy !== 'noeviction') {
    throw new LedgerConfigurationError(
      `Redis maxmemory-policy is "${policy ?? 'unknown'}"; the Redis ledger needs "noeviction" ` +
        '(set `maxmemory-policy noeviction` in redis.conf or run CONFIG SET maxmemory-policy noeviction), ' +
        'otherwise Redis may silently delete orders',
      { context: { policy: policy ?? null } },
    );
  }
}
