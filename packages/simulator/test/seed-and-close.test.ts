import { describe, expect, it } from 'vitest';
import { createPrng, createSimulator } from '../src/index.ts';
import { call, PASS, rechargeParams, timedPost, USER } from './helpers.ts';

const faults = {
  failureRate: 0.25,
  pendingRate: 0.25,
  garbageRate: 0.2,
  serverErrorRate: 0.2,
  settleAfterMs: 60_000,
};

async function run(seed: number): Promise<string[]> {
  const sim = createSimulator({ username: USER, password: PASS, seed, ...faults });
  const { url } = await sim.listen();
  try {
    const seen: string[] = [];
    for (let i = 0; i < 40; i += 1) {
      await call(url, '/recharge/api', rechargeParams(`seed-${i}`, '10'), 'POST');
      seen.push(sim.order(`seed-${i}`)?.behaviour ?? 'missing');
    }
    return seen;
  } finally {
    await sim.close();
  }
}

describe('seeded random faults', () => {
  it('replay exactly from the same seed, and differ with another seed', async () => {
    const a = await run(1234);
    const b = await run(1234);
    const c = await run(999);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    // The rates are honoured roughly, and every kind of fault shows up in 40 orders.
    expect(new Set(a)).toEqual(
      new Set(['success', 'failure', 'pending_then_success', 'garbage', 'server_error']),
    );
  });

  it('the PRNG is a pure function of the seed', () => {
    const one = createPrng(7);
    const two = createPrng(7);
    const xs = Array.from({ length: 5 }, () => one());
    expect(xs).toEqual(Array.from({ length: 5 }, () => two()));
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });

  it('refuses fault rates that add up to more than 1', () => {
    expect(() => createSimulator({ failureRate: 0.6, timeoutRate: 0.6 })).toThrow(/at most 1/);
  });
});

describe('close', () => {
  it('releases a held (timeout) request at once instead of waiting for holdMs', async () => {
    const sim = createSimulator({ username: USER, password: PASS, seed: 1 });
    const { url } = await sim.listen();
    const held = call(url, '/recharge/api', rechargeParams('held-1', '31'), 'POST').catch((e: unknown) => e);
    for (let i = 0; i < 100 && !sim.order('held-1'); i += 1) await new Promise((r) => setTimeout(r, 10));
    expect(sim.order('held-1')?.submissions).toBe(1);
    const started = Date.now();
    await sim.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await held).toBeInstanceOf(Error);
  });

  it('cuts a trickling answer (one byte per second) at once instead of trickling it out', async () => {
    const sim = createSimulator({ username: USER, password: PASS, seed: 1 });
    const { url } = await sim.listen();
    const trickling = timedPost(
      `${url}/recharge/api`,
      new URLSearchParams(rechargeParams('trickle-1', '71')).toString(),
      'application/x-www-form-urlencoded',
    ).catch((e: unknown) => e);
    for (let i = 0; i < 100 && !sim.order('trickle-1'); i += 1) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 1_200));
    const started = Date.now();
    await sim.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    const answer = await trickling;
    // Two bytes at most arrived (one at once, one after a second), then the connection was cut.
    expect(answer).toMatchObject({ cut: true });
    expect((answer as { body: string }).body.length).toBeLessThanOrEqual(2);
  });
});
