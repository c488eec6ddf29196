import { beforeEach, describe, expect, it } from 'vitest';
import type { BalanceStore } from '../../src/balances/balance-store.ts';
import { at, type LiveFixture } from './fixtures.ts';

/** The balances slice of the contract: BalanceStore. */
export function balanceContract(live: LiveFixture): void {
  describe('balances', () => {
    let store: BalanceStore;

    beforeEach(() => {
      store = live.store;
    });

    it('keeps balance samples per provider and answers the latest at or before a time', async () => {
      await store.recordBalance({ provider: 'a1topup', balance: 50_000, at: at(10) });
      await store.recordBalance({ provider: 'a1topup', balance: 40_000, at: at(20) });
      // Two samples of one millisecond: the one recorded last counts.
      await store.recordBalance({ provider: 'a1topup', balance: 45_000, at: at(20) });
      await store.recordBalance({ provider: 'telgoo5', balance: 7_000, at: at(15) });
      // Out of order is fine: it is placed by its time.
      await store.recordBalance({ provider: 'a1topup', balance: 60_000, at: at(5) });

      expect(await store.balanceAt('a1topup', at(4))).toBeNull();
      expect(await store.balanceAt('a1topup', at(5))).toStrictEqual({
        provider: 'a1topup',
        balance: 60_000,
        at: at(5),
      });
      expect(await store.balanceAt('a1topup', at(10))).toStrictEqual({
        provider: 'a1topup',
        balance: 50_000,
        at: at(10),
      });
      expect((await store.balanceAt('a1topup', at(19)))?.balance).toBe(50_000);
      expect(await store.balanceAt('a1topup', at(20))).toStrictEqual({
        provider: 'a1topup',
        balance: 45_000,
        at: at(20),
      });
      expect((await store.balanceAt('a1topup', at(1_000)))?.balance).toBe(45_000);
      expect(await store.balanceAt('telgoo5', at(14))).toBeNull();
      expect(await store.balanceAt('telgoo5', at(15))).toStrictEqual({
        provider: 'telgoo5',
        balance: 7_000,
        at: at(15),
      });
      expect(await store.balanceAt('nobody', at(1_000))).toBeNull();
      await expect(store.recordBalance({ provider: 'a1topup', balance: 1.5, at: at(30) })).rejects.toThrow(
        RangeError,
      );
    });
  });
}
