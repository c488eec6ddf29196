import type { JobProducer } from '@rechargeflow/queue';

/**
 * Makes a (reopened) delivery's job run now: a job waiting out its back-off is promoted, one
 * waiting or running is left as it is, and one that ended (completed, failed) or is gone is added
 * again under the same id (a manual retry: POST /v1/webhooks/:id/deliveries/:deliveryId/retry).
 */
export async function enqueueDeliveryNow(
  producer: Pick<JobProducer, 'queue' | 'ensureQueued'>,
  deliveryId: string,
): Promise<void> {
  const job = await producer.queue('webhooks').getJob(deliveryId);
  if (job) {
    const state = await job.getState();
    if (state === 'delayed') {
      await job.promote();
      return;
    }
    if (state !== 'completed' && state !== 'failed' && state !== 'unknown') return;
  }
  await producer.ensureQueued('webhook.deliver', { deliveryId }, deliveryId);
}
