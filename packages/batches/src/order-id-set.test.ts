import { describe, expect, it } from 'vitest';
import { OrderIdSet } from './order-id-set.ts';

describe('OrderIdSet', () => {
  it('answers the first row of a repeated id, through growth, and nothing for new ids', () => {
    const set = new OrderIdSet(16);
    let repeats = 0;
    for (let i = 1; i <= 100_000; i++) repeats += set.addOrGet(`order-${i}`, i) === 0 ? 0 : 1;
    expect(repeats).toBe(0);
    expect(set.size).toBe(100_000);
    expect(set.addOrGet('order-1', 100_001)).toBe(1);
    expect(set.addOrGet('order-77777', 100_002)).toBe(77_777);
    expect(set.addOrGet('Order-1', 100_003)).toBe(0); // ids are case-sensitive, like the ledger's
    expect(set.size).toBe(100_001);
  });
});
