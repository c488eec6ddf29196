import { describe, expect, it } from 'vitest';
import { createMetrics, webhookMetrics } from './metrics.ts';

describe('webhook metrics', () => {
  it('count a delivery job that ended failed in the deliveries metric, from 0 so its first one shows', async () => {
    const metrics = createMetrics('worker');
    const webhooks = webhookMetrics(metrics);
    const series = async (outcome: string) =>
      new RegExp(`rechargeflow_webhook_deliveries_total\\{outcome="${outcome}",part="worker"\\} (\\d+)`).exec(
        await metrics.registry.metrics(),
      )?.[1];
    expect(await series('job_failed')).toBe('0');
    expect(await series('failed')).toBe('0');
    webhooks.jobFailed();
    webhooks.attempt('failed', 0.2);
    expect(await series('job_failed')).toBe('1');
    expect(await series('failed')).toBe('1');
  });
});
