import { createHash } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { CallbackStore } from '../../src/callbacks/callback-store.ts';
import type { LedgerStore } from '../../src/ledger-store.ts';
import { at, callback, type LiveFixture } from './fixtures.ts';

/** The callbacks slice of the contract: CallbackStore. */
export function callbackContract(live: LiveFixture): void {
  describe('callbacks', () => {
    let store: CallbackStore;

    beforeEach(() => {
      store = live.store;
    });

    it('records a callback once under its deterministic id; a copy only counts', async () => {
      const input = callback();
      const first = await store.recordCallback(input);
      const id = createHash('sha256')
        .update(['a1topup', input.providerOrderId, 'success', 'OP77'].join('\u0000'))
        .digest('hex');
      expect(first).toStrictEqual({
        isNew: true,
        record: { ...input, id, outcome: 'received', copies: 1, updatedAt: input.receivedAt },
      });

      // Status compared trimmed and lower-cased; the first copy's text and times are kept.
      const copy = await store.recordCallback(
        callback({ status: ' SUCCESS ', receivedAt: at(200), raw: 'again' }),
      );
      expect(copy).toStrictEqual({ isNew: false, record: { ...first.record, copies: 2 } });
      expect(await store.getCallback(id)).toStrictEqual(copy.record);

      // Another operator ref, or none, is another callback.
      const otherRef = await store.recordCallback(callback({ providerRef: 'OP78' }));
      const noRef = await store.recordCallback(callback({ providerRef: undefined }));
      expect(otherRef.isNew).toBe(true);
      expect(noRef.isNew).toBe(true);
      expect(noRef.record).not.toHaveProperty('providerRef');
      expect(new Set([id, otherRef.record.id, noRef.record.id]).size).toBe(3);
      expect(await store.getCallback('f'.repeat(64))).toBeNull();
    });

    it('stores exactly one of 5 concurrent copies as new and counts all 5', async () => {
      const results = await Promise.all(Array.from({ length: 5 }, () => store.recordCallback(callback())));
      expect(results.filter((result) => result.isNew)).toHaveLength(1);
      const id = results[0]?.record.id ?? '';
      expect(new Set(results.map((result) => result.record.id))).toEqual(new Set([id]));
      expect((await store.getCallback(id))?.copies).toBe(5);
    });

    it('sets outcomes and finds callbacks by outcome, oldest change first, before a time', async () => {
      const c1 = (await store.recordCallback(callback({ providerOrderId: 'RF1', receivedAt: at(10) })))
        .record;
      const c2 = (await store.recordCallback(callback({ providerOrderId: 'RF2', receivedAt: at(30) })))
        .record;
      const c3 = (await store.recordCallback(callback({ providerOrderId: 'RF3', receivedAt: at(20) })))
        .record;
      const found = async (
        outcome: Parameters<LedgerStore['findCallbacks']>[0],
        before: number,
        limit = 10,
      ) => (await store.findCallbacks(outcome, at(before), limit)).map((record) => record.providerOrderId);

      expect(await found('received', 100)).toEqual(['RF1', 'RF3', 'RF2']);
      expect(await found('received', 100, 2)).toEqual(['RF1', 'RF3']);
      // `updatedBefore` is exclusive.
      expect(await found('received', 20)).toEqual(['RF1']);

      await store.setCallbackOutcome(c3.id, 'applied', 'pending -> success', at(40));
      const applied3 = await store.getCallback(c3.id);
      expect(applied3).toStrictEqual({
        ...c3,
        outcome: 'applied',
        note: 'pending -> success',
        updatedAt: at(40),
      });
      expect(await found('received', 100)).toEqual(['RF1', 'RF2']);
      expect(await found('applied', 100)).toEqual(['RF3']);
      expect(await found('applied', 40)).toEqual([]);

      await store.setCallbackOutcome(c1.id, 'unknown_order', 'no such order', at(50));
      await store.setCallbackOutcome(c1.id, 'ignored', undefined, at(60));
      const ignored = await store.getCallback(c1.id);
      expect(ignored).toStrictEqual({ ...c1, outcome: 'ignored', updatedAt: at(60) });
      expect(await found('unknown_order', 100)).toEqual([]);
      expect(await found('ignored', 100)).toEqual(['RF1']);
      expect(await found('received', 100)).toEqual(['RF2']);
      expect((await store.getCallback(c2.id))?.outcome).toBe('received');

      await expect(store.setCallbackOutcome('f'.repeat(64), 'applied', undefined, at(70))).rejects.toThrow(
        RangeError,
      );
      await expect(store.findCallbacks('received', at(100), 0)).rejects.toThrow(RangeError);
      await expect(store.setCallbackOutcome(c2.id, 'bogus' as 'applied', undefined, at(70))).rejects.toThrow(
        RangeError,
      );
      expect(await store.getCallback(c2.id)).toStrictEqual(c2);
    });
  });
}
