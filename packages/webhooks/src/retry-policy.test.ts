import { describe, expect, it } from 'vitest';
import { WEBHOOK_BACKOFF, webhookRetryDelayMs, withinRetryWindow } from './retry-policy.ts';

describe('the webhook back-off', () => {
  it('waits the first delay, doubles it after each failure, and never more than an hour', () => {
    expect([1, 2, 3, 4].map((n) => webhookRetryDelayMs(n, 10_000))).toEqual([10_000, 20_000, 40_000, 80_000]);
    expect(webhookRetryDelayMs(10, 10_000)).toBe(3_600_000);
    expect(webhookRetryDelayMs(1_000, 10_000)).toBe(WEBHOOK_BACKOFF.maxDelayMs);
    expect(webhookRetryDelayMs(0, 200)).toBe(200);
  });

  it('retries while the delivery is younger than the window', () => {
    expect(withinRetryWindow(0, 86_399_999, 86_400_000)).toBe(true);
    expect(withinRetryWindow(0, 86_400_000, 86_400_000)).toBe(false);
  });

  it('spends about 30 attempts in the default day', () => {
    let elapsed = 0;
    let attempts = 1;
    while (withinRetryWindow(0, elapsed + webhookRetryDelayMs(attempts, 10_000), 86_400_000)) {
      elapsed += webhookRetryDelayMs(attempts, 10_000);
      attempts += 1;
    }
    expect(attempts).toBeGreaterThan(25);
    expect(attempts).toBeLessThan(35);
  });
});
