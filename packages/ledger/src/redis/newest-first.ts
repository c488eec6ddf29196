import type { Redis } from 'ioredis';

/**
 * Up to `count` members of a list index (a sorted set, all scores 0, members `<time>:<id>`) newest
 * first, strictly after `after` (a member of an earlier page; none: from the newest).
 */
export function newestFirst(redis: Redis, index: string, after: string | undefined, count: number) {
  return redis.zrange(index, after === undefined ? '+' : `(${after}`, '-', 'BYLEX', 'REV', 'LIMIT', 0, count);
}
