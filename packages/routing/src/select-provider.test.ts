import { paise } from '@rechargeflow/domain';
import { describe, expect, it } from 'vitest';
import type { BreakerCheck } from './circuit-breaker.ts';
import { selectProvider } from './select-provider.ts';

const CLOSED: BreakerCheck = { allowed: true, state: 'closed', probe: false };
const OPEN: BreakerCheck = { allowed: false, state: 'open', probe: false };
const PROBE: BreakerCheck = { allowed: true, state: 'half_open', probe: true };

/** A breaker whose answers are fixed per provider, recording which providers were checked. */
function fakeBreaker(states: Record<string, BreakerCheck>) {
  const checked: string[] = [];
  return {
    checked,
    check: async (provider: string) => {
      checked.push(provider);
      return states[provider] ?? CLOSED;
    },
  };
}

const balances =
  (known: Record<string, number | null>) =>
  async (provider: string): Promise<number | null> =>
    known[provider] ?? null;

const route = ['p1', 'p2', 'p3'] as const;
const amount = paise(10_000);

describe('selectProvider', () => {
  it('takes the first provider when nothing is in the way', async () => {
    const breaker = fakeBreaker({});
    const result = await selectProvider({ route, fromIndex: 0, amount, breaker, balanceOf: balances({}) });
    expect(result).toEqual({ provider: 'p1', index: 0, probe: false, skipped: [] });
    expect(breaker.checked).toEqual(['p1']);
  });

  it('skips an open breaker and a known low balance, naming each', async () => {
    const breaker = fakeBreaker({ p1: OPEN });
    const result = await selectProvider({
      route,
      fromIndex: 0,
      amount,
      breaker,
      balanceOf: balances({ p2: 9_999 }),
    });
    expect(result).toEqual({
      provider: 'p3',
      index: 2,
      probe: false,
      skipped: [
        { provider: 'p1', reason: 'breaker_open' },
        { provider: 'p2', reason: 'low_balance' },
      ],
    });
  });

  it('a balance equal to the amount is enough; unknown balance never skips', async () => {
    const equal = await selectProvider({
      route,
      fromIndex: 0,
      amount,
      breaker: fakeBreaker({}),
      balanceOf: balances({ p1: 10_000 }),
    });
    expect(equal).toMatchObject({ provider: 'p1', index: 0 });
    const unknown = await selectProvider({
      route,
      fromIndex: 0,
      amount,
      breaker: fakeBreaker({}),
      balanceOf: balances({ p1: null }),
    });
    expect(unknown).toMatchObject({ provider: 'p1', index: 0 });
  });

  it('starts at fromIndex (failover after a definite failure)', async () => {
    const result = await selectProvider({
      route,
      fromIndex: 1,
      amount,
      breaker: fakeBreaker({}),
      balanceOf: balances({}),
    });
    expect(result).toEqual({ provider: 'p2', index: 1, probe: false, skipped: [] });
    expect(
      await selectProvider({
        route,
        fromIndex: 3,
        amount,
        breaker: fakeBreaker({}),
        balanceOf: balances({}),
      }),
    ).toEqual({ provider: null, skipped: [] });
  });

  it('passes a half-open probe on to the caller', async () => {
    const result = await selectProvider({
      route,
      fromIndex: 0,
      amount,
      breaker: fakeBreaker({ p1: PROBE }),
      balanceOf: balances({}),
    });
    expect(result).toEqual({ provider: 'p1', index: 0, probe: true, skipped: [] });
  });

  it('does not ask the breaker about a provider skipped for its balance (no probe wasted)', async () => {
    const breaker = fakeBreaker({});
    await selectProvider({ route, fromIndex: 0, amount, breaker, balanceOf: balances({ p1: 5 }) });
    expect(breaker.checked).toEqual(['p2']);
  });

  it('returns no provider, with every skip, when none is available', async () => {
    const result = await selectProvider({
      route,
      fromIndex: 0,
      amount,
      breaker: fakeBreaker({ p1: OPEN, p3: { allowed: false, state: 'half_open', probe: false } }),
      balanceOf: balances({ p2: 0 }),
    });
    expect(result).toEqual({
      provider: null,
      skipped: [
        { provider: 'p1', reason: 'breaker_open' },
        { provider: 'p2', reason: 'low_balance' },
        { provider: 'p3', reason: 'breaker_open' },
      ],
    });
  });

  it('skips a provider not enabled here without reading its balance or breaker (no probe taken)', async () => {
    const breaker = fakeBreaker({});
    const read: string[] = [];
    const result = await selectProvider({
      route,
      fromIndex: 0,
      amount,
      breaker,
      balanceOf: async (provider) => {
        read.push(provider);
        return null;
      },
      enabled: ['P2', 'p3'],
    });
    expect(result).toEqual({
      provider: 'p2',
      index: 1,
      probe: false,
      skipped: [{ provider: 'p1', reason: 'not_enabled' }],
    });
    expect(breaker.checked).toEqual(['p2']);
    expect(read).toEqual(['p2']);
    expect(
      await selectProvider({
        route,
        fromIndex: 1,
        amount,
        breaker,
        balanceOf: balances({}),
        enabled: ['p1'],
      }),
    ).toEqual({
      provider: null,
      skipped: [
        { provider: 'p2', reason: 'not_enabled' },
        { provider: 'p3', reason: 'not_enabled' },
      ],
    });
  });

  it('refuses a negative or fractional fromIndex', async () => {
    const input = { route, amount, breaker: fakeBreaker({}), balanceOf: balances({}) };
    await expect(selectProvider({ ...input, fromIndex: -1 })).rejects.toThrow(RangeError);
    await expect(selectProvider({ ...input, fromIndex: 0.5 })).rejects.toThrow(RangeError);
  });
});
