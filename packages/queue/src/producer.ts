import { Queue } from 'bullmq';
import type { QueueConnection } from './connection.ts';
import {
  JOB_CATALOGUE,
  type JobName,
  type JobPayload,
  type QueueName,
  queueNameFor,
} from './job-catalogue.ts';
import { bullPrefix } from './queue-prefix.ts';

export interface QueueSettings {
  /** QUEUE_PREFIX: the start of every queue key (see `bullPrefix`); tests use their own. */
  readonly prefix: string;
}

/**
 * The BullMQ options of one job of the catalogue: its id, attempts and back-off, and how long a
 * finished job is kept. A completed job is removed at once: the ledger is the record of every
 * order (and of every delivery), and keeping a day of completed jobs cost ~1.5 KB of Redis per
 * order plus 4 Redis commands per job to trim them. Every handler is safe to run again on a job
 * id added anew (the ledger decides, not the job's existence). Failed jobs stay a week for the
 * queue board.
 */
export function jobOptions(name: JobName, jobId: string) {
  const entry = JOB_CATALOGUE[name];
  return {
    jobId,
    attempts: entry.attempts,
    backoff: { ...entry.backoff },
    removeOnComplete: true,
    removeOnFail: { age: 7 * 24 * 3600 },
  };
}

/** Typed producer over the catalogue: one BullMQ Queue per catalogue queue, created lazily. */
export class JobProducer {
  readonly #connection: QueueConnection;
  readonly #prefix: string;
  readonly #queues = new Map<string, Queue>();

  constructor(connection: QueueConnection, settings: QueueSettings) {
    this.#connection = connection;
    this.#prefix = settings.prefix;
  }

  /** The BullMQ queue `name`, or its partition (`recharges-a1topup` for partition `a1topup`). */
  queue(name: QueueName, partition?: string): Queue {
    const fullName = queueNameFor(name, partition);
    let queue = this.#queues.get(fullName);
    if (!queue) {
      queue = new Queue(fullName, {
        connection: this.#connection,
        prefix: bullPrefix(this.#prefix, fullName, this.#connection),
      });
      this.#queues.set(fullName, queue);
    }
    return queue;
  }

  /**
   * Adds a job whose id is `jobId`. BullMQ ignores an add whose id already exists, which is what
   * makes re-enqueueing after a crash safe.
   */
  async enqueue<N extends JobName>(
    name: N,
    payload: JobPayload<N>,
    jobId: string,
    partition?: string,
  ): Promise<void> {
    const entry = JOB_CATALOGUE[name];
    const data = entry.schema.parse(payload);
    await this.queue(entry.queue, partition).add(name, data, jobOptions(name, jobId));
  }

  /**
   * Adds many jobs of one kind in one round trip (BullMQ addBulk); ids already present are
   * ignored by BullMQ exactly like single adds.
   */
  async enqueueBulk<N extends JobName>(
    name: N,
    jobs: readonly { readonly payload: JobPayload<N>; readonly jobId: string }[],
    partition?: string,
  ): Promise<void> {
    if (jobs.length === 0) return;
    const entry = JOB_CATALOGUE[name];
    await this.queue(entry.queue, partition).addBulk(
      jobs.map((job) => ({
        name,
        data: entry.schema.parse(job.payload),
        opts: jobOptions(name, job.jobId),
      })),
    );
  }

  /**
   * Jobs waiting to start on the queue of `name` (or its partition), delayed ones included: the
   * backlog its consumers have not taken yet. A CSV import adds recharge jobs only while this is
   * short (batch release).
   */
  async backlog(name: JobName, partition?: string): Promise<number> {
    // Delayed too: jobs waiting out a provider outage or a back-off are work not done yet.
    return this.queue(JOB_CATALOGUE[name].queue, partition).getJobCountByTypes(
      'waiting',
      'prioritized',
      'delayed',
    );
  }

  /**
   * Makes sure a job with `jobId` will run: adds it when missing, retries it when it ended failed,
   * leaves it alone otherwise. Used by the recovery sweep for orders still `queued` in the ledger.
   */
  async ensureQueued<N extends JobName>(
    name: N,
    payload: JobPayload<N>,
    jobId: string,
    partition?: string,
  ): Promise<'added' | 'retried' | 'present'> {
    const result = await this.reviveEnded(name, payload, jobId, partition);
    if (result !== 'missing') return result;
    await this.enqueue(name, payload, jobId, partition);
    return 'added';
  }

  /**
   * ensureQueued for a job that exists only: retries it when it ended failed, adds it again when it
   * completed, and answers `missing` (adding nothing) when there is no such job. For the orders of
   * a batch not released yet: one whose job existed was released, one without is the release's.
   */
  async reviveEnded<N extends JobName>(
    name: N,
    payload: JobPayload<N>,
    jobId: string,
    partition?: string,
  ): Promise<'added' | 'retried' | 'present' | 'missing'> {
    const queue = this.queue(JOB_CATALOGUE[name].queue, partition);
    const job = await queue.getJob(jobId);
    if (!job) return 'missing';
    const state = await job.getState();
    if (state === 'failed') {
      await job.retry('failed');
      return 'retried';
    }
    if (state === 'completed') {
      // The job ran but the order is still queued (its ledger write failed): run it again.
      await job.remove();
      await this.enqueue(name, payload, jobId, partition);
      return 'added';
    }
    return 'present';
  }

  /**
   * Creates or updates a repeating job. The scheduler lives in Redis, so several processes
   * upserting the same id share one schedule: each run is one job, taken by one consumer.
   */
  async schedule(
    name: 'poller.sweep' | 'poller.balance' | 'ledger.retention',
    everyMs: number,
  ): Promise<void> {
    const entry = JOB_CATALOGUE[name];
    await this.queue(entry.queue).upsertJobScheduler(
      name,
      { every: everyMs },
      {
        name,
        data: entry.schema.parse({}),
        opts: { attempts: entry.attempts, removeOnComplete: { count: 100 }, removeOnFail: { count: 1_000 } },
      },
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.#queues.values()].map((q) => q.close()));
    this.#queues.clear();
  }
}
