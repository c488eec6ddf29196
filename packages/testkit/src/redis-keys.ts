/** The two Redis calls key clean-up needs (ioredis's `Redis` fits; no dependency on it here). */
export interface KeyScanner {
  scan(
    cursor: string,
    match: 'MATCH',
    pattern: string,
    count: 'COUNT',
    n: number,
  ): Promise<[string, string[]]>;
  unlink(...keys: string[]): Promise<number>;
}

/** Deletes every key under `prefix` (SCAN, never KEYS; UNLINK frees memory off the main thread). */
export async function deleteByPrefix(redis: KeyScanner, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5_000);
    cursor = next;
    if (found.length > 0) deleted += await redis.unlink(...found);
  } while (cursor !== '0');
  return deleted;
}
