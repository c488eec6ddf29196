import { performance } from 'node:perf_hooks';
import type {
  FastifyRateLimitOptions,
  FastifyRateLimitStore,
  FastifyRateLimitStoreCtor,
} from '@fastify/rate-limit';
import type { QueueConnection } from '@rechargeflow/queue';

type IncrCallback = Parameters<FastifyRateLimitStore['incr']>[1];

/** Windows this process remembers; past it the oldest is forgotten (it then costs a first touch again). */
const MAX_REMEMBERED = 10_000;

interface Window {
  /** The count Redis last answered (or, once over the limit, counted here). */
  count: number;
  /** When the window ends, on this process's monotonic clock; never later than Redis ends it. */
  endsAt: number;
}

/**
 * @fastify/rate-limit's store on the queue side's Redis: one `INCR` per request in steady state
 * (one `INCRBY n` for a client's n requests of one turn of the event loop), where the plugin's own
 * RedisStore runs a script (EVALSHA + INCR + PTTL) per request.
 *
 * Same counter as before: key `<nameSpace><key>`, a window that starts at the client's first
 * request and lasts `timeWindow`, shared by every replica. What costs the script its PTTL is
 * learning when the window ends; each process learns it once per client and window instead:
 * - first touch (this process has no window for the key, or its window has ended): one pipeline
 *   `SET key 0 PX window NX`, `INCR`, `PTTL`. The key is created with its expiry, so a crash
 *   between commands never leaves a counter without one; the end is `sent + PTTL`, measured on a
 *   monotonic clock from before the send, so it is never later than Redis's own expiry and a
 *   steady-state INCR always finds the key alive (no immortal key made by INCR).
 * - steady state: `INCR` (or `INCRBY n`) alone; the ttl is computed here.
 * - over the limit: answered here until the window ends (the count can only grow till then), so a
 *   flood costs Redis nothing.
 * A key found without expiry (only after Redis lost data: a restart without AOF, a failover) is
 * given one: by `PEXPIRE … NX` when a steady INCR answers 1, or at the next first touch (PTTL -1).
 * Single-key commands only, so it works on a Redis Cluster too.
 */
class RedisRateLimitStore implements FastifyRateLimitStore {
  private readonly windows = new Map<string, Window>();
  /** Steady-state counts asked for in this turn of the event loop, by key (see addSoon). */
  private readonly adding = new Map<
    string,
    { resolve: (count: number) => void; reject: (error: unknown) => void }[]
  >();
  private readonly redis: QueueConnection;
  private readonly nameSpace: string;

  constructor(redis: QueueConnection, nameSpace: string) {
    this.redis = redis;
    this.nameSpace = nameSpace;
  }

  incr(key: string, callback: IncrCallback, timeWindow: number, max: number): void {
    this.count(`${this.nameSpace}${key}`, timeWindow, max).then(
      (result) => callback(null, result),
      (error: Error) => callback(error),
    );
  }

  child(routeOptions: Parameters<FastifyRateLimitStore['child']>[0]): FastifyRateLimitStore {
    // As the plugin's RedisStore does: a route with its own limit counts apart. The plugin passes
    // the route's merged limit options with the route under `routeInfo` (its typings omit it).
    const { routeInfo: route = {} } = routeOptions as {
      routeInfo?: { method?: unknown; url?: unknown };
    };
    return new RedisRateLimitStore(
      this.redis,
      `${this.nameSpace}${String(route.method)}${String(route.url)}-`,
    );
  }

  private async count(redisKey: string, timeWindow: number, max: number) {
    const known = this.windows.get(redisKey);
    const now = performance.now();
    if (known && now < known.endsAt) {
      if (known.count > max) {
        known.count += 1;
        return { current: known.count, ttl: remaining(known, now) };
      }
      const current = await this.addSoon(redisKey);
      if (current === 1) return this.heal(redisKey, timeWindow, now);
      known.count = current;
      return { current, ttl: remaining(known, now) };
    }
    return this.firstTouch(redisKey, timeWindow, now);
  }

  /**
   * One more on the key's counter, sent with the others of this turn of the event loop: one
   * `INCRBY n` for n requests of a client (one `INCR` when alone), each answered with its own
   * count, as n `INCR`s in a row would have been.
   */
  private addSoon(redisKey: string): Promise<number> {
    return new Promise((resolve, reject) => {
      let waiting = this.adding.get(redisKey);
      if (waiting === undefined) {
        waiting = [];
        this.adding.set(redisKey, waiting);
        if (this.adding.size === 1) setImmediate(() => this.sendAdds());
      }
      waiting.push({ resolve, reject });
    });
  }

  private sendAdds(): void {
    const all = [...this.adding];
    this.adding.clear();
    for (const [redisKey, waiting] of all) {
      const n = waiting.length;
      (n === 1 ? this.redis.incr(redisKey) : this.redis.incrby(redisKey, n)).then(
        (total) => {
          waiting.forEach(({ resolve }, i) => {
            resolve(total - n + 1 + i);
          });
        },
        (error: unknown) => {
          for (const { reject } of waiting) reject(error);
        },
      );
    }
  }

  private async firstTouch(redisKey: string, timeWindow: number, sentAt: number) {
    const replies = await this.redis
      .pipeline()
      .set(redisKey, 0, 'PX', timeWindow, 'NX')
      .incr(redisKey)
      .pttl(redisKey)
      .exec();
    const current = Number(reply(replies, 1));
    const pttl = Number(reply(replies, 2));
    if (pttl === -1) return this.heal(redisKey, timeWindow, sentAt, current);
    // -2: the old window's key expired between INCR and PTTL; the next request starts a new one.
    if (pttl < 0) return { current, ttl: 1 };
    // 1 ms under: PTTL counts from Redis's clock truncated to the millisecond.
    return this.remember(redisKey, current, sentAt + pttl - 1, sentAt);
  }

  /** The key exists without an expiry (Redis lost it and an INCR made it again): give it one. */
  private async heal(redisKey: string, timeWindow: number, sentAt: number, current = 1) {
    const replies = await this.redis.pipeline().pexpire(redisKey, timeWindow, 'NX').pttl(redisKey).exec();
    const pttl = Number(reply(replies, 1));
    return this.remember(redisKey, current, sentAt + Math.max(pttl - 1, 1), sentAt);
  }

  private remember(redisKey: string, count: number, endsAt: number, now: number) {
    this.windows.delete(redisKey);
    if (this.windows.size >= MAX_REMEMBERED) this.forgetEnded(now);
    const window = { count, endsAt };
    this.windows.set(redisKey, window);
    return { current: count, ttl: remaining(window, now) };
  }

  private forgetEnded(now: number) {
    // Map order is insertion order, and every window of one store lasts the same time, so the
    // oldest end first: stop at the first one still running (no walk over every remembered client
    // on each first touch once the map is full).
    for (const [key, window] of this.windows) {
      if (window.endsAt > now) break;
      this.windows.delete(key);
    }
    // Still full: forget the oldest.
    const oldest = this.windows.keys().next();
    if (this.windows.size >= MAX_REMEMBERED && !oldest.done) this.windows.delete(oldest.value);
  }
}

function remaining(window: Window, now: number): number {
  return Math.max(1, Math.ceil(window.endsAt - now));
}

function reply(replies: [Error | null, unknown][] | null, index: number): unknown {
  const entry = replies?.[index];
  if (!entry) throw new Error('rate limit: Redis pipeline returned no reply');
  if (entry[0]) throw entry[0];
  return entry[1];
}

/**
 * The `store` option of @fastify/rate-limit: counters in `redis` under `nameSpace`. The plugin
 * builds it with its own options; the ones this store does not implement are refused.
 */
export function redisRateLimitStore(redis: QueueConnection, nameSpace: string): FastifyRateLimitStoreCtor {
  return class extends RedisRateLimitStore {
    constructor(options: FastifyRateLimitOptions) {
      const { continueExceeding, exponentialBackoff } = options as {
        continueExceeding?: boolean;
        exponentialBackoff?: boolean;
      };
      if (continueExceeding || exponentialBackoff)
        throw new Error('redisRateLimitStore: continueExceeding and exponentialBackoff are not supported');
      super(redis, nameSpace);
    }
  };
}
