import { hash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { orderKeyId } from './order.ts';

const expected = (clientId: string, orderId: string) =>
  hash('sha256', `${clientId}\u0000${orderId}`).slice(0, 32);

describe('orderKeyId', () => {
  it('is the sha256 of the key, asked once or many times, and past the bound of remembered ids', () => {
    expect(orderKeyId({ clientId: 'shop', orderId: 'o-1' })).toBe(expected('shop', 'o-1'));
    expect(orderKeyId({ clientId: 'shop', orderId: 'o-1' })).toBe(expected('shop', 'o-1'));
    // More keys than it remembers: each still its own id, the first one too.
    for (let i = 0; i < 10_000; i += 1)
      expect(orderKeyId({ clientId: 'shop', orderId: `k${i}` })).toBe(expected('shop', `k${i}`));
    expect(orderKeyId({ clientId: 'shop', orderId: 'o-1' })).toBe(expected('shop', 'o-1'));
  });

  it('tells apart keys that only a separator would confuse', () => {
    expect(orderKeyId({ clientId: 'ab', orderId: 'c' })).not.toBe(
      orderKeyId({ clientId: 'a', orderId: 'bc' }),
    );
  });
});
