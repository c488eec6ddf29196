import { randomUUID } from 'node:crypto';
import { paise } from '@rechargeflow/domain';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type CircuitBreaker,
  cachedBreaker,
  createProviderGate,
  createRedisCircuitBreaker,
  selectProvider,
} from '../src/index.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `rf-test-routing-${randomUUID().slice(0, 8)}`;
const connections: Redis[] = [];

function connect(): Redis {
  const redis = new Redis(REDIS_URL, { connectionName: 'routing-test' });
  connections.push(redis);
  return redis;
}

afterAll(async () => {
  const admin = new Redis(REDIS_URL);
  const keys = await admin.keys(`${prefix}:*`);
  if (keys.length > 0) await admin.del(...keys);
  await admin.quit();
  await Promise.all(connections.map((c) => c.quit().catch(() => undefined)));
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh provider name per test, so tests share no breaker state. */
const provider = () => `p-${randomUUID().slice(0, 8)}`;

async function failTimes(breaker: CircuitBreaker, name: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await breaker.record(name, 'failure');
}

describe('Redis circuit breaker', () => {
  const redis = connect();

  it('opens after the threshold of consecutive failures, and refuses while open', async () => {
    const breaker = createRedisCircuitBreaker({ redis, prefix, failureThreshold: 3, openMs: 60_000 });
    const p = provider();
    expect(await breaker.check(p)).toEqual({ allowed: true, state: 'closed', probe: false });
    expect(await breaker.snapshot(p)).toEqual({
      state: 'closed',
      consecutiveFailures: 0,
      probeInFlight: false,
    });

    expect(await breaker.record(p, 'failure')).toBe('closed');
    expect(await breaker.record(p, 'failure')).toBe('closed');
    expect(await breaker.check(p)).toEqual({ allowed: true, state: 'closed', probe: false });
    expect(await breaker.record(p, 'failure')).toBe('open');

    expect(await breaker.check(p)).toEqual({ allowed: false, state: 'open', probe: false });
    const snap = await breaker.snapshot(p);
    expect(snap).toMatchObject({ state: 'open', consecutiveFailures: 3, probeInFlight: false });
    const openedAt = Date.parse(snap.openedAt!);
    expect(Math.abs(openedAt - Date.now())).toBeLessThan(5_000);
    expect(Date.parse(snap.nextProbeAt!) - openedAt).toBe(60_000);

    // A late success from a call sent before it opened does not cut the wait short.
    expect(await breaker.record(p, 'success')).toBe('open');
    expect(await breaker.check(p)).toMatchObject({ allowed: false, state: 'open' });
  });

  it('a success in closed state resets the count', async () => {
    const breaker = createRedisCircuitBreaker({ redis, prefix, failureThreshold: 3, openMs: 60_000 });
    const p = provider();
    await failTimes(breaker, p, 2);
    expect((await breaker.snapshot(p)).consecutiveFailures).toBe(2);
    expect(await breaker.record(p, 'success')).toBe('closed');
    expect((await breaker.snapshot(p)).consecutiveFailures).toBe(0);
    await failTimes(breaker, p, 2);
    expect(await breaker.check(p)).toMatchObject({ allowed: true, state: 'closed' });
    expect(await breaker.record(p, 'failure')).toBe('open');
  });

  it('after openMs exactly one of 20 concurrent checks, across connections, gets the probe', async () => {
    const openMs = 200;
    const breakers = Array.from({ length: 4 }, () =>
      createRedisCircuitBreaker({
        redis: connect(),
        prefix,
        failureThreshold: 1,
        openMs,
        probeLeaseMs: 60_000,
      }),
    );
    const p = provider();
    await breakers[0]!.record(p, 'failure');
    expect(await breakers[1]!.check(p)).toMatchObject({ allowed: false, state: 'open' });
    await sleep(openMs + 50);

    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => breakers[i % 4]!.check(p)));
    const probes = results.filter((r) => r.allowed);
    expect(probes).toEqual([{ allowed: true, state: 'half_open', probe: true }]);
    expect(results.filter((r) => !r.allowed && r.state === 'half_open')).toHaveLength(19);
    expect(await breakers[2]!.snapshot(p)).toMatchObject({ state: 'half_open', probeInFlight: true });
  });

  it("a probe's success closes the breaker", async () => {
    const breaker = createRedisCircuitBreaker({ redis, prefix, failureThreshold: 2, openMs: 100 });
    const p = provider();
    await failTimes(breaker, p, 2);
    await sleep(150);
    expect(await breaker.check(p)).toEqual({ allowed: true, state: 'half_open', probe: true });
    expect(await breaker.record(p, 'success')).toBe('closed');
    expect(await breaker.check(p)).toEqual({ allowed: true, state: 'closed', probe: false });
    expect(await breaker.snapshot(p)).toEqual({
      state: 'closed',
      consecutiveFailures: 0,
      probeInFlight: false,
    });
    expect(await redis.exists(`${prefix}:breaker:${p}`)).toBe(0);
  });

  it("a probe's failure opens it for another openMs", async () => {
    const breaker = createRedisCircuitBreaker({ redis, prefix, failureThreshold: 2, openMs: 300 });
    const p = provider();
    await failTimes(breaker, p, 2);
    const firstOpenedAt = (await breaker.snapshot(p)).openedAt;
    await sleep(350);
    expect(await breaker.check(p)).toMatchObject({ allowed: true, probe: true });
    expect(await breaker.record(p, 'failure')).toBe('open');

    expect(await breaker.check(p)).toEqual({ allowed: false, state: 'open', probe: false });
    const snap = await breaker.snapshot(p);
    expect(snap).toMatchObject({ state: 'open', consecutiveFailures: 3, openedAt: firstOpenedAt });
    expect(Date.parse(snap.nextProbeAt!)).toBeGreaterThan(Date.parse(firstOpenedAt!) + 300);

    await sleep(350);
    expect(await breaker.check(p)).toEqual({ allowed: true, state: 'half_open', probe: true });
  });

  it('a probe whose caller never reports blocks only until its lease ends', async () => {
    const breaker = createRedisCircuitBreaker({
      redis,
      prefix,
      failureThreshold: 1,
      openMs: 100,
      probeLeaseMs: 200,
    });
    const p = provider();
    await breaker.record(p, 'failure');
    await sleep(150);
    expect(await breaker.check(p)).toMatchObject({ allowed: true, probe: true });
    expect(await breaker.check(p)).toEqual({ allowed: false, state: 'half_open', probe: false });
    const snap = await breaker.snapshot(p);
    expect(snap).toMatchObject({ state: 'half_open', probeInFlight: true });

    await sleep(250);
    expect(await breaker.snapshot(p)).toMatchObject({ state: 'half_open', probeInFlight: false });
    expect(await breaker.check(p)).toEqual({ allowed: true, state: 'half_open', probe: true });
  });

  it('the lease defaults to openMs', async () => {
    const breaker = createRedisCircuitBreaker({ redis, prefix, failureThreshold: 1, openMs: 150 });
    const p = provider();
    await breaker.record(p, 'failure');
    await sleep(200);
    expect(await breaker.check(p)).toMatchObject({ probe: true });
    expect(await breaker.check(p)).toMatchObject({ allowed: false });
    await sleep(200);
    expect(await breaker.check(p)).toMatchObject({ probe: true });
  });

  it('falls back to EVAL when the server does not have the script (restart, SCRIPT FLUSH)', async () => {
    // Not a real SCRIPT FLUSH: that would reach every other test using this Redis.
    let evals = 0;
    const forgetful = new Proxy(redis, {
      get(target, key, receiver) {
        if (key === 'evalsha') return async () => Promise.reject(new Error('NOSCRIPT No matching script.'));
        if (key === 'eval') {
          return (...args: Parameters<Redis['eval']>) => {
            evals++;
            return target.eval(...args);
          };
        }
        return Reflect.get(target, key, receiver);
      },
    });
    const breaker = createRedisCircuitBreaker({ redis: forgetful, prefix, failureThreshold: 1 });
    const p = provider();
    expect(await breaker.record(p, 'failure')).toBe('open');
    expect(await breaker.check(p)).toMatchObject({ allowed: false, state: 'open' });
    expect(evals).toBe(2);
  });

  it('refuses bad settings and provider names', async () => {
    expect(() => createRedisCircuitBreaker({ redis, prefix, failureThreshold: 0 })).toThrow(RangeError);
    expect(() => createRedisCircuitBreaker({ redis, prefix, openMs: 1.5 })).toThrow(RangeError);
    const breaker = createRedisCircuitBreaker({ redis, prefix });
    await expect(breaker.check('has space')).rejects.toThrow(RangeError);
    await expect(breaker.check('a:b')).rejects.toThrow(RangeError);
  });

  it('selectProvider with the real breaker: skips an open one, hands out the probe once', async () => {
    const breaker = createRedisCircuitBreaker({ redis, prefix, failureThreshold: 1, openMs: 100 });
    const [p1, p2] = [provider(), provider()];
    await breaker.record(p1, 'failure');
    const input = {
      route: [p1, p2],
      fromIndex: 0,
      amount: paise(1_000),
      breaker,
      balanceOf: async () => null,
    };
    expect(await selectProvider(input)).toEqual({
      provider: p2,
      index: 1,
      probe: false,
      skipped: [{ provider: p1, reason: 'breaker_open' }],
    });
    await sleep(150);
    expect(await selectProvider(input)).toEqual({ provider: p1, index: 0, probe: true, skipped: [] });
    expect(await selectProvider(input)).toMatchObject({
      provider: p2,
      skipped: [{ provider: p1, reason: 'breaker_open' }],
    });
  });
});

describe('provider gate: only providers enabled here', () => {
  const redis = connect();

  it('never chooses a provider outside PROVIDERS, and says so when none is left', async () => {
    const breaker = createRedisCircuitBreaker({ redis, prefix, failureThreshold: 1, openMs: 60_000 });
    const [on, off] = [provider(), provider()];
    const gate = createProviderGate({ breaker, balanceOf: async () => null, enabled: [on] });
    // A stored route naming a provider that is not enabled (PROVIDERS changed since): passed over.
    expect(await gate.select([off, on], 0, 1_000)).toEqual({ provider: on, index: 1 });
    expect(await gate.select([on, off], 1, 1_000)).toEqual({
      provider: null,
      reason: `${off} not enabled here`,
    });
    await breaker.record(on, 'failure');
    expect(await gate.select([on, off], 0, 1_000)).toEqual({
      provider: null,
      reason: `${on} circuit open, ${off} not enabled here`,
    });
    // Without `enabled`, every provider of the route may be chosen (as before).
    const open = createProviderGate({ breaker, balanceOf: async () => null });
    expect(await open.select([on, off], 0, 1_000)).toEqual({ provider: off, index: 1 });
  });
});

describe('cached breaker (the worker hot path)', () => {
  const redis = connect();

  /** The shared breaker, counting what reaches Redis. */
  function counted(shared: CircuitBreaker) {
    const calls = { check: 0, record: 0 };
    const breaker: CircuitBreaker = {
      check: (p) => {
        calls.check += 1;
        return shared.check(p);
      },
      record: (p, o) => {
        calls.record += 1;
        return shared.record(p, o);
      },
      snapshot: (p) => shared.snapshot(p),
    };
    return { breaker, calls };
  }

  it('answers a closed breaker from memory and records a success once per period', async () => {
    let now = 1_000_000;
    const shared = createRedisCircuitBreaker({ redis, prefix, failureThreshold: 3, openMs: 60_000 });
    const { breaker, calls } = counted(shared);
    const cached = cachedBreaker(breaker, 1_000, () => now);
    const p = provider();
    for (let i = 0; i < 20; i++) {
      expect(await cached.check(p)).toEqual({ allowed: true, state: 'closed', probe: false });
      expect(await cached.record(p, 'success')).toBe('closed');
    }
    expect(calls).toEqual({ check: 1, record: 1 });
    now += 1_001;
    await cached.check(p);
    await cached.record(p, 'success');
    expect(calls).toEqual({ check: 2, record: 2 });
  });

  it('sends every failure through, sees its own opening at once, and leaves probes to the shared breaker', async () => {
    let now = 2_000_000;
    const shared = createRedisCircuitBreaker({ redis, prefix, failureThreshold: 2, openMs: 400 });
    const { breaker, calls } = counted(shared);
    const cached = cachedBreaker(breaker, 60_000, () => now);
    const other = cachedBreaker(shared, 60_000, () => now);
    const p = provider();
    expect((await cached.check(p)).state).toBe('closed');
    expect(await cached.record(p, 'failure')).toBe('closed');
    expect(await cached.record(p, 'failure')).toBe('open');
    expect(calls.record).toBe(2);
    // Its own failures dropped the cached view: the open breaker is seen at once, from Redis.
    expect(await cached.check(p)).toEqual({ allowed: false, state: 'open', probe: false });
    // After the wait exactly one caller across both gets the probe (never cached).
    await sleep(450);
    now += 450;
    const probes = await Promise.all([cached.check(p), other.check(p), cached.check(p)]);
    expect(probes.filter((c) => c.probe)).toHaveLength(1);
    expect(probes.every((c) => c.state === 'half_open')).toBe(true);
    // The probe's success closes it for everyone.
    expect(await cached.record(p, 'success')).toBe('closed');
    expect((await shared.snapshot(p)).state).toBe('closed');
  });
});

describe('provider gate balance reuse', () => {
  const redis = connect();

  it('reads a balance once per period, again after it, and never reuses a failed read', async () => {
    let now = 3_000_000;
    let reads = 0;
    let failNext = false;
    const gate = createProviderGate({
      breaker: createRedisCircuitBreaker({ redis, prefix }),
      balanceOf: async () => {
        reads += 1;
        if (failNext) {
          failNext = false;
          throw new Error('ledger down');
        }
        return 1_000_000;
      },
      balanceCacheMs: 5_000,
      now: () => now,
    });
    const route = [provider()];
    for (let i = 0; i < 10; i++) expect((await gate.select(route, 0, 10_000)).provider).toBe(route[0]);
    expect(reads).toBe(1);
    now += 5_001;
    failNext = true;
    await expect(gate.select(route, 0, 10_000)).rejects.toThrow('ledger down');
    expect((await gate.select(route, 0, 10_000)).provider).toBe(route[0]);
    expect(reads).toBe(3);
  });
});

describe('cached breaker races', () => {
  const redis = connect();

  it('a check answered "closed" while a failure opened the breaker does not cache the stale answer', async () => {
    const shared = createRedisCircuitBreaker({ redis, prefix, failureThreshold: 1, openMs: 60_000 });
    let release: (() => void) | undefined;
    // The shared breaker, with its check answer held back until the test lets it go.
    const slow: CircuitBreaker = {
      check: async (p) => {
        const answer = await shared.check(p);
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return answer;
      },
      record: (p, o) => shared.record(p, o),
      snapshot: (p) => shared.snapshot(p),
    };
    const cached = cachedBreaker(slow, 60_000);
    const p = provider();
    const inFlight = cached.check(p);
    await sleep(20);
    expect(await cached.record(p, 'failure')).toBe('open');
    release?.();
    expect((await inFlight).state).toBe('closed');
    // The stale "closed" was not cached: the next check asks Redis and sees the open breaker.
    const next = cached.check(p);
    await sleep(20);
    release?.();
    expect(await next).toEqual({ allowed: false, state: 'open', probe: false });
  });
});
