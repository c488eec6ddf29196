import type { Order } from '@rechargeflow/domain';
import { batchReleaseJobId, rechargeJobId } from '@rechargeflow/queue';
import type { OrderDeps } from './deps.ts';
import { forEachStale, type SweepOptions } from './sweep-pages.ts';

export interface RequeueSummary {
  readonly examined: number;
  readonly added: number;
  readonly retried: number;
  /** Orders left to their batch's release (whose job this sweep made sure of). */
  readonly awaitingRelease: number;
}

/**
 * Finds orders that have sat in `queued` longer than `olderThanMs` and makes sure each has a
 * runnable job. Covers a crash between the ledger write and the enqueue, and a queue outage.
 *
 * A CSV batch's orders past its `rowsReleased` wait in the ledger on purpose (the queues were full
 * when it was imported): they are its release job's, so while a batch has rows to release the sweep
 * makes sure of that job, once per batch, and adds no job for its orders that have none. Its
 * released orders whose job ended (failed) are run again like any other. (The batch is read once
 * per sweep: a release that ends mid-sweep leaves its orders to the next one.)
 */
export async function requeueStranded(deps: OrderDeps, options: SweepOptions): Promise<RequeueSummary> {
  let added = 0;
  let retried = 0;
  let awaitingRelease = 0;
  /** Per batch seen in this sweep: whether it still has rows to release. */
  const releasing = new Map<string, Promise<boolean>>();
  const awaitsRelease = (order: Order): Promise<boolean> => {
    const batchId = order.batchId;
    if (batchId === undefined) return Promise.resolve(false);
    let answer = releasing.get(batchId);
    if (answer === undefined) {
      answer = (async () => {
        const batch = await deps.ledger.getBatch(order.clientId, batchId);
        if (batch === null || batch.rowsReleased >= batch.rowsCommitted) return false;
        const result = await deps.producer.ensureQueued(
          'batch.release',
          { clientId: order.clientId, batchId },
          batchReleaseJobId(batchId),
        );
        if (result !== 'present') {
          deps.log.info(
            { clientId: order.clientId, batchId, result },
            'batch release handed to the queue again',
          );
        }
        return true;
      })();
      releasing.set(batchId, answer);
    }
    return answer;
  };
  const examined = await forEachStale(deps, 'queued', options, async (order) => {
    const key = { clientId: order.clientId, orderId: order.orderId };
    const jobId = rechargeJobId(key, order.provider);
    // An order of a batch still releasing: one with a job was released (a job that ended is run
    // again, as for any order); one without is the release's.
    const result = (await awaitsRelease(order))
      ? await deps.producer.reviveEnded('recharge', key, jobId, order.provider)
      : await deps.producer.ensureQueued('recharge', key, jobId, order.provider);
    if (result === 'missing') {
      awaitingRelease++;
      return;
    }
    if (result === 'added') added++;
    if (result === 'retried') retried++;
    if (result !== 'present') {
      deps.log.info({ ...key, result }, 'stranded queued order handed to the queue again');
    }
  });
  return { examined, added, retried, awaitingRelease };
}
