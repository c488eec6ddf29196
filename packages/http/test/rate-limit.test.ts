import { describe, expect, it } from 'vitest';
import { createRateLimiter } from '../src/index.ts';

describe('per-client rate limit', () => {
  it('allows the limit per minute per client, then says how long to wait', () => {
    let now = 120_000 + 15_000;
    const limit = createRateLimiter(3, () => now);
    expect([1, 2, 3].map(() => limit('a').allowed)).toEqual([true, true, true]);
    expect(limit('a')).toEqual({ allowed: false, retryAfterSeconds: 45 });
    expect(limit('b').allowed).toBe(true);
    now = 180_000;
    expect(limit('a').allowed).toBe(true);
  });
});
