import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LedgerStore } from '../../src/ledger-store.ts';
import { balanceContract } from './balances.ts';
import { batchContract } from './batches.ts';
import { callbackContract } from './callbacks.ts';
import type { LedgerFixture, LiveFixture } from './fixtures.ts';
import { orderContract } from './orders.ts';
import { webhookContract } from './webhooks.ts';

export type { LedgerFixture } from './fixtures.ts';

/**
 * The behaviour every LedgerStore must show, one slice per aggregate (orders, callbacks, balances,
 * batches, webhooks) plus the store's own clock and ping. Before each test `setup` makes an empty,
 * initialised store, which every slice reads through the live fixture; after it, `cleanup`
 * removes everything the test wrote.
 */
export function describeLedgerContract(name: string, setup: () => Promise<LedgerFixture>): void {
  describe(`LedgerStore contract: ${name}`, () => {
    let fixture: LedgerFixture | undefined;
    const current = (): LedgerFixture => {
      if (fixture === undefined) throw new Error('no ledger fixture outside a test');
      return fixture;
    };
    const live: LiveFixture = {
      get store() {
        return current().store;
      },
      makeLegacy: (key) => current().makeLegacy(key),
    };
    let store: LedgerStore;

    beforeEach(async () => {
      fixture = await setup();
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture?.cleanup();
      fixture = undefined;
    });

    orderContract(live);
    callbackContract(live);
    balanceContract(live);
    batchContract(live);
    webhookContract(live);

    it("answers the store's clock", async () => {
      const before = Date.now();
      const clock = await store.clock();
      expect(clock).toBeInstanceOf(Date);
      // Same machine in the tests: within a few seconds of ours.
      expect(Math.abs(clock.getTime() - before)).toBeLessThan(5_000);
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
