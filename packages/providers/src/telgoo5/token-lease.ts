import { createCipheriv, createDecipheriv, createHash, createHmac, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { RechargeflowError } from '@rechargeflow/domain';
import type { Cluster, Redis } from 'ioredis';

/**
 * A pool of Telgoo5 tokens shared by every worker process on every machine. A token is valid for
 * one call and 15 minutes; every answer carries the next one. The pool hands each token to exactly
 * one taker: `take` pops it atomically in one Lua script, and a token once taken can never be put
 * back (a retried `put` after a reconnect, say), because taken tokens are remembered by hash until
 * well after they expire.
 *
 * Redis layout (all under the caller's `key`; on a Redis Cluster the key carries a hash tag, e.g.
 * `rf:{telgoo5:tokens}`, so the three share one slot, as the scripts and `clear` need):
 * - `key`            sorted set: stored token -> expiry (ms since epoch); the key expires with its last token
 * - `key:taken`      sorted set: sha1(stored token) -> expiry; refuses a second put of a taken token
 * - `key:auth-lock`  string with PX: who is authenticating now
 *
 * Tokens are secrets: they never appear in errors or logs from here; with `encryptionKey` they are
 * not even stored in clear.
 */
export interface TokenLease {
  /** The usable token that expires first, removed from the pool; `null` when none is usable. */
  take(): Promise<string | null>;
  /**
   * Stores a fresh, unused token. Its expiry is the earlier of the JWT `exp` claim (when it decodes
   * as one) and `issuedAtMs` (default now) + the token TTL. Expired and already-taken tokens are ignored.
   */
  put(token: string, issuedAtMs?: number): Promise<void>;
  /**
   * Runs `fn` holding a short cluster-wide lock (SET NX PX), so that when the pool is empty only one
   * process authenticates. When another process holds it, waits up to `waitMs` for that process to
   * finish (or for any token to appear) and resolves `null` without running `fn`: take again then.
   */
  withAuthLock<T>(fn: () => Promise<T>, waitMs: number): Promise<T | null>;
  /** Tokens usable now (not within the safety margin of expiry). */
  size(): Promise<number>;
  /** Forgets every token, the taken-token memory and the lock. */
  clear(): Promise<void>;
}

export interface RedisTokenLeaseOptions {
  /** The caller owns the connection (and closes it); a Redis Cluster too. */
  readonly redis: Redis | Cluster;
  /** Key of the pool, e.g. `rf:{telgoo5:tokens}`: the hash tag keeps its keys in one slot of a cluster. */
  readonly key: string;
  /** Lifetime of a token without a JWT `exp` claim, from issue (default 15 minutes). */
  readonly tokenTtlMs?: number;
  /** A token this close to its expiry is never handed out: it could expire in flight (default 30 s). */
  readonly safetyMarginMs?: number;
  /** Lock lifetime: longer than one authentication should take (default 15 s). */
  readonly lockTtlMs?: number;
  /**
   * When set, tokens are stored sealed (AES-256-GCM, key = sha256 of this), so Redis never holds a
   * usable token in clear (docs/product.md, rule 4). Every process sharing the pool must use the same value.
   */
  readonly encryptionKey?: string;
}

interface LuaScript {
  readonly lua: string;
  readonly sha: string;
}

function lua(source: string): LuaScript {
  return { lua: source, sha: createHash('sha1').update(source).digest('hex') };
}

/** Redis time in ms: one clock for every taker, whatever the machines' clocks say. */
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** KEYS: pool, taken. ARGV: token, jwt expiry ms or '', issued-at ms or '', ttl ms. Returns 1 if stored. */
const PUT = lua(`${NOW}
local issued = tonumber(ARGV[3]) or now
if issued > now then issued = now end
local expiry = issued + tonumber(ARGV[4])
local jwt = tonumber(ARGV[2])
if jwt and jwt < expiry then expiry = jwt end
if expiry <= now then return 0 end
if redis.call('ZSCORE', KEYS[2], redis.sha1hex(ARGV[1])) then return 0 end
redis.call('ZADD', KEYS[1], 'NX', expiry, ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', KEYS[1], math.ceil(tonumber(last[2]))) end
return 1
`);

/** KEYS: pool, taken. ARGV: safety margin ms, ttl ms. Returns the token or nil. */
const TAKE = lua(`${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now + tonumber(ARGV[1]))
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[2]))
local popped = redis.call('ZPOPMIN', KEYS[1])
if not popped[1] then return false end
redis.call('ZADD', KEYS[2], popped[2], redis.sha1hex(popped[1]))
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[2], math.ceil(tonumber(last[2]) + tonumber(ARGV[2])))
return popped[1]
`);

/** KEYS: pool. ARGV: safety margin ms. */
const SIZE = lua(`${NOW}
return redis.call('ZCOUNT', KEYS[1], '(' .. (now + tonumber(ARGV[1])), '+inf')
`);

/** KEYS: lock. ARGV: owner id. Deletes the lock only if it is still ours. */
const RELEASE = lua(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

async function run(redis: Redis | Cluster, script: LuaScript, keys: string[], args: (string | number)[]) {
  try {
    return await redis.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    // NOSCRIPT: the script did not run, so running it again is safe.
    if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
    return redis.eval(script.lua, keys.length, ...keys, ...args);
  }
}

/** The JWT `exp` claim in ms, when the token is a JWT that carries one; the signature is not checked. */
export function jwtExpiryMs(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (typeof payload !== 'object' || payload === null) return undefined;
    const exp = (payload as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) && exp > 0 ? Math.floor(exp * 1000) : undefined;
  } catch {
    return undefined;
  }
}

function optionMs(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 0 || v > 86_400_000) {
    throw new RechargeflowError(
      `token lease option ${name} must be a whole number of ms from 0 to 86400000`,
      {
        context: { option: name },
      },
    );
  }
  return v;
}

/**
 * Deterministic sealing: the IV is derived from the token, so the same token always seals to the
 * same member (the pool's uniqueness and the taken-token memory rely on that). GCM still
 * authenticates, and an IV repeats only for an identical plaintext.
 */
function sealer(secret: string) {
  const key = createHash('sha256').update(`rechargeflow telgoo5 token lease\u0000${secret}`).digest();
  return {
    seal(token: string): string {
      const iv = createHmac('sha256', key).update(token).digest().subarray(0, 12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()]);
      return `v1.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
    },
    /** `null` for anything not sealed with this key (another key, a clear token): never usable. */
    open(stored: string): string | null {
      if (!stored.startsWith('v1.')) return null;
      try {
        const raw = Buffer.from(stored.slice(3), 'base64url');
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
        decipher.setAuthTag(raw.subarray(12, 28));
        return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
      } catch {
        return null;
      }
    },
  };
}

export function createRedisTokenLease(options: RedisTokenLeaseOptions): TokenLease {
  const { redis, key } = options;
  if (!key) throw new RechargeflowError('token lease option key is required', { context: { option: 'key' } });
  const ttlMs = optionMs('tokenTtlMs', options.tokenTtlMs, 15 * 60_000);
  const marginMs = optionMs('safetyMarginMs', options.safetyMarginMs, 30_000);
  const lockTtlMs = Math.max(1, optionMs('lockTtlMs', options.lockTtlMs, 15_000));
  const takenKey = `${key}:taken`;
  const lockKey = `${key}:auth-lock`;
  const seal = options.encryptionKey ? sealer(options.encryptionKey) : undefined;

  async function take(): Promise<string | null> {
    // A stored value this process cannot open is dropped and the next one tried.
    for (;;) {
      const stored = await run(redis, TAKE, [key, takenKey], [marginMs, ttlMs]);
      if (typeof stored !== 'string') return null;
      if (!seal) return stored;
      const token = seal.open(stored);
      if (token !== null) return token;
    }
  }

  async function put(token: string, issuedAtMs?: number): Promise<void> {
    if (!token) return;
    const jwt = jwtExpiryMs(token);
    const issued = issuedAtMs !== undefined && Number.isFinite(issuedAtMs) ? Math.floor(issuedAtMs) : '';
    await run(redis, PUT, [key, takenKey], [seal ? seal.seal(token) : token, jwt ?? '', issued, ttlMs]);
  }

  async function size(): Promise<number> {
    return Number(await run(redis, SIZE, [key], [marginMs]));
  }

  async function withAuthLock<T>(fn: () => Promise<T>, waitMs: number): Promise<T | null> {
    const owner = randomUUID();
    if ((await redis.set(lockKey, owner, 'PX', lockTtlMs, 'NX')) === 'OK') {
      try {
        return await fn();
      } finally {
        // Best effort: if this fails the lock lapses after lockTtlMs anyway.
        await run(redis, RELEASE, [lockKey], [owner]).catch(() => undefined);
      }
    }
    const deadline = Date.now() + Math.max(0, waitMs);
    while (Date.now() < deadline) {
      await sleep(Math.min(20, Math.max(1, deadline - Date.now())));
      const [locked, stored] = await Promise.all([redis.exists(lockKey), redis.zcard(key)]);
      if (locked === 0 || stored > 0) break;
    }
    return null;
  }

  return {
    take,
    put,
    withAuthLock,
    size,
    async clear() {
      await redis.del(key, takenKey, lockKey);
    },
  };
}
