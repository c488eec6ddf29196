import { ID_PATTERN, type OrderKey, orderKeyId } from '@rechargeflow/domain';
import { z } from 'zod';

const orderKeySchema = z
  .object({
    clientId: z.string().regex(ID_PATTERN),
    orderId: z.string().regex(ID_PATTERN),
  })
  .strict();

/** A batch of a client: the payload of its import and of its release. */
const batchKeySchema = z
  .object({
    clientId: z.string().regex(ID_PATTERN),
    batchId: z.string().regex(/^b_[A-Za-z0-9_-]{8,64}$/),
  })
  .strict();

/**
 * Every job Rechargeflow runs: its queue, payload schema (parsed again when dequeued), attempts
 * and back-off. Payloads carry keys only — never a phone number, amount detail or secret; the
 * worker reads the order from the ledger.
 */
export const JOB_CATALOGUE = {
  /** One provider call for an order; runs on its provider's queue (`recharges-<provider>`). */
  recharge: {
    queue: 'recharges',
    schema: orderKeySchema,
    /** Attempts only repeat calls that provably never left (not_sent); see the worker. */
    attempts: 6,
    backoff: { type: 'exponential', delay: 2_000 },
  },
  /** Imports one stored CSV upload: validates every row, creates orders, queues their recharges. */
  'batch.import': {
    queue: 'batches',
    schema: batchKeySchema,
    attempts: 5,
    backoff: { type: 'exponential', delay: 2_000 },
  },
  /**
   * Hands a batch's orders to their providers' queues as the queues have room (the import adds jobs
   * only while they are short): the rows after the batch's `rowsReleased`, a commit at a time. Waits
   * (delayed, no attempt spent) while the queues are full or the import has not committed more.
   */
  'batch.release': {
    queue: 'batches',
    schema: batchKeySchema,
    attempts: 10,
    backoff: { type: 'exponential', delay: 2_000 },
  },
  /**
   * Applies one stored provider callback (reversals are verified first, so it may retry). 10 runs
   * with back-off span about 17 min: the default REVERSAL_CONFIRM_WINDOW (15 min) without leaning
   * on the sweep, which re-runs a failed one once per sweep.
   */
  'callback.apply': {
    queue: 'callbacks',
    schema: z.object({ callbackId: z.string().regex(/^[a-f0-9]{64}$/) }).strict(),
    attempts: 10,
    backoff: { type: 'exponential', delay: 2_000 },
  },
  /**
   * One signed POST of a webhook delivery (packages/webhooks). Its job id is the delivery id, so a
   * delivery has one job however often it is found. An endpoint that fails makes the job wait on
   * the webhook back-off (WEBHOOK_RETRY_FIRST_MS doubling, for WEBHOOK_RETRY_FOR) without spending
   * attempts; the attempts here are for the ledger failing under the job.
   */
  'webhook.deliver': {
    queue: 'webhooks',
    schema: z.object({ deliveryId: z.string().regex(/^wd_[a-f0-9]{32}$/) }).strict(),
    attempts: 10,
    backoff: { type: 'exponential', delay: 2_000 },
  },
  /** One sweep of the status poller (scheduled; several poller replicas share one schedule). */
  'poller.sweep': {
    queue: 'poller',
    schema: z.object({}).strict(),
    attempts: 1,
    backoff: { type: 'fixed', delay: 1_000 },
  },
  /** Samples every provider's balance (scheduled). */
  'poller.balance': {
    queue: 'poller',
    schema: z.object({}).strict(),
    attempts: 1,
    backoff: { type: 'fixed', delay: 1_000 },
  },
  /**
   * Archives final orders past LEDGER_RETENTION and removes them from the Redis ledger (scheduled,
   * hourly; one run per archive directory at a time). Not retried: the next run resumes.
   */
  'ledger.retention': {
    queue: 'poller',
    schema: z.object({}).strict(),
    attempts: 1,
    backoff: { type: 'fixed', delay: 1_000 },
  },
} as const;

export type JobName = keyof typeof JOB_CATALOGUE;

/**
 * How long a job's retries span from its first failure to its last attempt: the sum of the back-off
 * delays BullMQ waits between its attempts (exponential: `delay · 2^(n-1)` before retry n; fixed:
 * `delay` each). For settings that must fit inside a job's retries (REVERSAL_CONFIRM_WINDOW).
 */
export function retrySpanMs(name: JobName): number {
  const { attempts, backoff } = JOB_CATALOGUE[name];
  const retries = attempts - 1;
  return backoff.type === 'exponential' ? backoff.delay * (2 ** retries - 1) : backoff.delay * retries;
}
export type JobPayload<N extends JobName> = z.infer<(typeof JOB_CATALOGUE)[N]['schema']>;
export type QueueName = (typeof JOB_CATALOGUE)[JobName]['queue'];

/** The BullMQ job id of a batch's import job: one per batch. */
export function batchJobId(batchId: string): string {
  return `import-${batchId}`;
}

/** The BullMQ job id of a batch's release job: one per batch while it has rows to release. */
export function batchReleaseJobId(batchId: string): string {
  return `release-${batchId}`;
}

/** The BullMQ job id of a callback's apply job: one per stored callback. */
export function callbackJobId(callbackId: string): string {
  return `callback-${callbackId}`;
}

/**
 * The BullMQ job id of an order's recharge job with one provider: one job per order and provider,
 * ever (docs/product.md, rule 1; a failover to the next provider is the only second job).
 */
export function rechargeJobId(key: OrderKey, provider: string): string {
  return `recharge-${orderKeyId(key)}-${provider}`;
}

/**
 * Jobs partitioned by provider run on their own queue (`recharges-a1topup`), so each provider
 * gets its own workers, concurrency and rate limit.
 */
export function queueNameFor(queue: QueueName, partition?: string): string {
  if (partition === undefined) return queue;
  if (!/^[a-z0-9_]{1,32}$/.test(partition)) throw new Error(`bad queue partition "${partition}"`);
  return `${queue}-${partition}`;
}
