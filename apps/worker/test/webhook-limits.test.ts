import { MAX_WEBHOOK_RETRY_FOR_MS } from '@rechargeflow/config';
import { DELIVERY_TTL_MS } from '@rechargeflow/ledger';
import { DELIVERY_STRANDED_AFTER_MS, WEBHOOK_BACKOFF } from '@rechargeflow/webhooks';
import { describe, expect, it } from 'vitest';

// The worker reads WEBHOOK_RETRY_FOR (config) and sends deliveries the ledger keeps DELIVERY_TTL_MS.
describe('webhook time limits', () => {
  it('end every delivery, however late its last attempt or its re-queue, with weeks of its record left', () => {
    const day = 86_400_000;
    // The longest retry window, then its last back-off wait, then a sweep that re-queues a lost job.
    const latestEnd = MAX_WEBHOOK_RETRY_FOR_MS + WEBHOOK_BACKOFF.maxDelayMs + DELIVERY_STRANDED_AFTER_MS;
    expect(latestEnd).toBeLessThan(DELIVERY_TTL_MS);
    expect(DELIVERY_TTL_MS - latestEnd).toBeGreaterThan(3 * 7 * day);
  });
});
