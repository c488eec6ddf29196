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

/** A Redis Cluster: its masters' own connections (ioredis's `Cluster` fits). */
export interface ClusterKeyScanner {
  readonly isCluster: boolean;
  nodes(role: 'master'): KeyScanner[];
}

/**
 * Deletes every key under `prefix` (SCAN, never KEYS; UNLINK frees memory off the main thread). On a
 * Redis Cluster each master is scanned for its own keys and they are unlinked one by one (keys of
 * different slots cannot go in one command, even on one node).
 */
export async function deleteByPrefix(redis: KeyScanner | ClusterKeyScanner, prefix: string): Promise<number> {
  if ('isCluster' in redis && redis.isCluster === true) {
    let deleted = 0;
    for (const node of redis.nodes('master')) deleted += await deleteOnNode(node, prefix, true);
    return deleted;
  }
  return deleteOnNode(redis as KeyScanner, prefix, false);
}

async function deleteOnNode(redis: KeyScanner, prefix: string, oneByOne: boolean): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5_000);
    cursor = next;
    if (found.length === 0) continue;
    deleted += oneByOne
      ? (await Promise.all(found.map((key) => redis.unlink(key)))).reduce((sum, n) => sum + n, 0)
      : await redis.unlink(...found);
  } while (cursor !== '0');
  return deleted;
}
