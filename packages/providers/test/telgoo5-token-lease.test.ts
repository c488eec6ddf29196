import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisTokenLease, jwtExpiryMs, type RedisTokenLeaseOptions } from '../src/index.ts';
import { deleteKeys, testRedisUrl } from './helpers.ts';

// The lease against the real Redis, from several connections at once (as from several processes).
const PREFIX = `rf:test:telgoo5-lease:${randomUUID()}:`;
const connections: Redis[] = [];
let seq = 0;

function connect(): Redis {
  const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
  connections.push(redis);
  return redis;
}

function freshKey(): string {
  seq += 1;
  return `${PREFIX}${seq}`;
}

function lease(key: string, redis = connections[0]!, options: Partial<RedisTokenLeaseOptions> = {}) {
  return createRedisTokenLease({ redis, key, ...options });
}

/** An unsigned JWT-shaped token with the given `exp` (seconds); the lease never checks signatures. */
function jwt(expSeconds: number, id = randomUUID()): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ typ: 'JWT', alg: 'HS256' })}.${part({ data: { id }, exp: expSeconds })}.c2lnbmF0dXJl`;
}

beforeAll(() => {
  for (let i = 0; i < 5; i += 1) connect();
});

afterAll(async () => {
  await deleteKeys(connections[0]!, PREFIX);
  await Promise.all(connections.map((c) => c.quit()));
});

describe('Telgoo5 token lease', () => {
  it('hands each of 20 tokens to exactly one of 50 concurrent takers on 5 connections', async () => {
    const key = freshKey();
    const tokens = Array.from({ length: 20 }, (_, i) => `tok-${i}-${randomUUID()}`);
    await Promise.all(tokens.map((t) => lease(key).put(t)));
    expect(await lease(key).size()).toBe(20);
    const leases = connections.map((c) => lease(key, c));
    const taken = await Promise.all(Array.from({ length: 50 }, (_, i) => leases[i % leases.length]!.take()));
    const got = taken.filter((t): t is string => t !== null);
    expect(got).toHaveLength(20);
    expect(new Set(got)).toEqual(new Set(tokens));
    expect(taken.filter((t) => t === null)).toHaveLength(30);
    expect(await lease(key).size()).toBe(0);
  });

  it('never hands out an expired token or one within the safety margin of expiry', async () => {
    const key = freshKey();
    const l = lease(key, connections[1], { tokenTtlMs: 15 * 60_000, safetyMarginMs: 30_000 });
    const now = Date.now();
    await l.put('expired-by-issue-time', now - 16 * 60_000);
    await l.put('inside-margin-by-issue-time', now - (15 * 60_000 - 10_000));
    await l.put(jwt(Math.floor(now / 1000) - 5), now); // JWT already expired, though issued "now"
    await l.put(jwt(Math.floor(now / 1000) + 10), now); // JWT expires inside the margin
    const longJwt = jwt(Math.floor(now / 1000) + 3_600); // capped at issue + 15 min
    await l.put(longJwt, now);
    await l.put('fresh-plain', now - 60_000);
    expect(await l.size()).toBe(2);
    // The one expiring first comes first: fresh-plain (14 min left), then the JWT (15 min).
    expect(await l.take()).toBe('fresh-plain');
    expect(await l.take()).toBe(longJwt);
    expect(await l.take()).toBeNull();
  });

  it('drops a token when the margin overtakes it while it waits in the pool', async () => {
    const key = freshKey();
    const l = lease(key, connections[2], { tokenTtlMs: 400, safetyMarginMs: 100 });
    await l.put('short-lived');
    expect(await l.size()).toBe(1);
    await sleep(350);
    expect(await l.take()).toBeNull();
  });

  it('reads the JWT exp claim and ignores tokens that are not JWTs', () => {
    expect(jwtExpiryMs(jwt(1_561_468_624))).toBe(1_561_468_624_000);
    expect(jwtExpiryMs('opaque-token')).toBeUndefined();
    expect(jwtExpiryMs('a.b.c')).toBeUndefined();
    expect(jwtExpiryMs(`x.${Buffer.from('{"exp":"soon"}').toString('base64url')}.y`)).toBeUndefined();
  });

  it('never stores a taken token again (a put retried after a reconnect), nor the same token twice', async () => {
    const key = freshKey();
    const l = lease(key);
    await l.put('once');
    await l.put('once');
    expect(await l.size()).toBe(1);
    expect(await l.take()).toBe('once');
    await l.put('once');
    expect(await l.take()).toBeNull();
  });

  it('stores tokens sealed when given an encryption key; another key cannot use them', async () => {
    const key = freshKey();
    const secret = `secret-${randomUUID()}`;
    const sealed = lease(key, connections[3], { encryptionKey: secret });
    await sealed.put('clear-token-value-1');
    await sealed.put('clear-token-value-2');
    const members = await connections[0]!.zrange(key, '0', '-1');
    expect(members).toHaveLength(2);
    expect(members.join(' ')).not.toContain('clear-token-value');
    expect(await lease(key, connections[3], { encryptionKey: 'another' }).take()).toBeNull();
    await sealed.put('clear-token-value-3');
    expect(await lease(key, connections[4], { encryptionKey: secret }).take()).toBe('clear-token-value-3');
    // The same token seals the same way, so the taken-token memory still holds.
    await sealed.put('clear-token-value-3');
    expect(await sealed.take()).toBeNull();
  });

  it('withAuthLock lets one of 10 concurrent callers in; the others wait for it, then take its token', async () => {
    const key = freshKey();
    let ran = 0;
    let finishedAt = 0;
    const leases = connections.map((c) => lease(key, c));
    const results = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const l = leases[i % leases.length]!;
        const result = await l.withAuthLock(async () => {
          ran += 1;
          await sleep(150);
          await l.put('from-the-one-authenticator');
          finishedAt = Date.now();
          return 'ran';
        }, 2_000);
        return { result, at: Date.now(), token: result === null ? await l.take() : null };
      }),
    );
    expect(ran).toBe(1);
    expect(results.filter((r) => r.result === 'ran')).toHaveLength(1);
    const waiters = results.filter((r) => r.result === null);
    expect(waiters).toHaveLength(9);
    for (const w of waiters) expect(w.at).toBeGreaterThanOrEqual(finishedAt - 5);
    // Exactly one waiter got the single token put back.
    expect(waiters.filter((w) => w.token === 'from-the-one-authenticator')).toHaveLength(1);
    // The lock is released afterwards.
    expect(await leases[0]!.withAuthLock(async () => 'again', 0)).toBe('again');
  });

  it('a waiter gives up after waitMs when the holder takes too long, and the lock expires on its own', async () => {
    const key = freshKey();
    const a = lease(key, connections[0], { lockTtlMs: 300 });
    const b = lease(key, connections[1], { lockTtlMs: 300 });
    const holder = a.withAuthLock(() => sleep(1_000).then(() => 'slow'), 0);
    await sleep(20);
    const started = Date.now();
    expect(await b.withAuthLock(async () => 'b', 100)).toBeNull();
    expect(Date.now() - started).toBeLessThan(400);
    await sleep(350);
    // The holder's lock lapsed (lockTtlMs), so another process may authenticate.
    expect(await b.withAuthLock(async () => 'b', 0)).toBe('b');
    expect(await holder).toBe('slow');
  });

  it('clear forgets tokens, the taken-token memory and the lock', async () => {
    const key = freshKey();
    const l = lease(key);
    await l.put('x-token');
    await l.put('y-token');
    expect(await l.take()).toBe('x-token');
    await l.clear();
    expect(await l.size()).toBe(0);
    await l.put('x-token');
    expect(await l.take()).toBe('x-token');
  });
});
