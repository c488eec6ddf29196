import type { OrderKey } from '@rechargeflow/domain';
import { JOB_CATALOGUE } from '@rechargeflow/queue';
import type { Scheduler, Task } from './scheduler.ts';

/**
 * The recharge queue, modelled on what BullMQ does for the worker (see packages/queue): one job
 * per job id (an add of an id that exists, in any state, is ignored), `attempts` runs of which only
 * a retryable error asks for another, a crashed run's job goes back to waiting (stalled) or is
 * lost (failed: stalled once too often), `ensureQueued` adds a missing job, retries a failed one and
 * re-adds a completed one. The real BullMQ is not needed: the orders code only adds and ensures.
 */

/** The recharge job's attempts, as the job catalogue gives them to BullMQ. */
export const RECHARGE_ATTEMPTS: number = JOB_CATALOGUE.recharge.attempts;

export interface ModelJob {
  readonly jobId: string;
  readonly key: OrderKey;
  readonly provider: string;
  state: 'waiting' | 'active' | 'completed' | 'failed';
  /** Runs started (BullMQ's attemptsStarted): the next run is attempt `started + 1`. */
  started: number;
  runs: Task[];
}

export class ModelQueue {
  readonly jobs = new Map<string, ModelJob>();
  readonly #scheduler: Scheduler;
  /** The next N adds fail (a queue outage). */
  failNext = 0;
  readonly log: string[] = [];

  constructor(scheduler: Scheduler) {
    this.#scheduler = scheduler;
  }

  async enqueue(name: string, payload: OrderKey, jobId: string, partition?: string): Promise<void> {
    await this.#scheduler.park('queue', `queue.enqueue(${jobId.slice(-12)})`);
    if (name !== 'recharge') throw new Error(`unexpected job ${name}`);
    if (this.failNext > 0) {
      this.failNext--;
      this.log.push(`enqueue ${jobId} failed (queue down)`);
      throw new Error('model queue is down');
    }
    if (this.jobs.has(jobId)) return;
    this.#add(payload, jobId, partition);
  }

  async ensureQueued(
    name: string,
    payload: OrderKey,
    jobId: string,
    partition?: string,
  ): Promise<'added' | 'retried' | 'present'> {
    await this.#scheduler.park('queue', `queue.ensureQueued(${jobId.slice(-12)})`);
    if (name !== 'recharge') throw new Error(`unexpected job ${name}`);
    const job = this.jobs.get(jobId);
    if (!job) {
      this.#add(payload, jobId, partition);
      return 'added';
    }
    if (job.state === 'failed') {
      job.state = 'waiting';
      return 'retried';
    }
    if (job.state === 'completed') {
      this.jobs.delete(jobId);
      this.#add(payload, jobId, partition);
      return 'added';
    }
    return 'present';
  }

  async enqueueBulk(): Promise<void> {
    throw new Error('the model queue takes single adds only');
  }

  waiting(): ModelJob[] {
    return [...this.jobs.values()].filter((j) => j.state === 'waiting');
  }

  active(): ModelJob[] {
    return [...this.jobs.values()].filter((j) => j.state === 'active' && j.runs.some((t) => t.live));
  }

  /** A run of `job` ended (or crashed): where the job goes now. */
  ended(job: ModelJob, outcome: 'completed' | 'retry' | 'failed' | 'stalled'): void {
    if (job.runs.some((t) => t.live)) return; // another run of it is still going
    if (!this.jobs.has(job.jobId) || this.jobs.get(job.jobId) !== job) return;
    switch (outcome) {
      case 'completed':
        job.state = 'completed';
        return;
      case 'retry':
        job.state = job.started >= RECHARGE_ATTEMPTS ? 'failed' : 'waiting';
        return;
      case 'stalled':
        job.state = 'waiting';
        return;
      case 'failed':
        job.state = 'failed';
        return;
    }
  }

  #add(key: OrderKey, jobId: string, provider: string | undefined): void {
    if (provider === undefined) throw new Error('recharge jobs are partitioned by provider');
    this.jobs.set(jobId, {
      jobId,
      key: { clientId: key.clientId, orderId: key.orderId },
      provider,
      state: 'waiting',
      started: 0,
      runs: [],
    });
  }
}
