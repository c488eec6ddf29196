import { RechargeflowError } from '@rechargeflow/domain';
import { DelayedError, type Job, UnrecoverableError, Worker } from 'bullmq';
import type { QueueConnection } from './connection.ts';
import {
  JOB_CATALOGUE,
  type JobName,
  type JobPayload,
  type QueueName,
  queueNameFor,
} from './job-catalogue.ts';
import { bullPrefix } from './queue-prefix.ts';

export interface JobContext {
  readonly jobId: string;
  /** 1-based number of this run of the job. */
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly isFinalAttempt: boolean;
}

export type JobHandler<N extends JobName> = (payload: JobPayload<N>, context: JobContext) => Promise<void>;

/** Handlers for the catalogue jobs of one queue. */
export type JobHandlers = { readonly [N in JobName]?: JobHandler<N> };

/** Told about every run of a job and every stalled job found (for metrics). */
export interface JobObserver {
  /**
   * `retry`: failed with a retryable error before its last attempt (BullMQ runs it again);
   * `waiting`: asked to run again later without spending an attempt (see `retryAfterMs`).
   */
  ran(queue: string, outcome: 'completed' | 'retry' | 'waiting' | 'failed', seconds: number): void;
  stalled(queue: string): void;
}

export interface ConsumerSettings {
  /** QUEUE_PREFIX (see `bullPrefix`). */
  readonly prefix: string;
  readonly concurrency: number;
  /** How long a job's lock lasts without renewal before it counts as stalled. */
  readonly lockDurationMs?: number | undefined;
  readonly onError?: ((error: Error) => void) | undefined;
  readonly onFailed?: ((jobId: string | undefined, error: Error) => void) | undefined;
  /**
   * A job ended failed for good: its attempts spent, a non-retryable error, or stalled more than
   * once. Nothing runs it again unless it is added again (the sweeps), so this is what to count.
   */
  readonly onGaveUp?: ((jobId: string | undefined, error: Error) => void) | undefined;
  /** Consume one partition of the queue (e.g. the provider of `recharges`). */
  readonly partition?: string | undefined;
  /** BullMQ's rate limit for the queue, shared by every worker of it: at most `max` jobs per `durationMs`. */
  readonly limiter?: { readonly max: number; readonly durationMs: number } | undefined;
  readonly observer?: JobObserver | undefined;
}

/**
 * A BullMQ worker for the catalogue jobs of one queue: the payload is parsed at dequeue (a bad
 * payload is never retried), and only errors marked `retryable` are retried; every other error
 * ends the job. A retryable error with `retryAfterMs` is a wait, not a failure: the job goes back
 * to the delayed set for that long without spending one of its attempts (an order waiting out a
 * provider outage, a webhook endpoint that is down), so the handler alone decides how long to wait.
 */
export function createJobConsumer(
  queue: QueueName,
  handlers: JobHandlers,
  connection: QueueConnection,
  settings: ConsumerSettings,
): Worker {
  for (const name of Object.keys(handlers) as JobName[]) {
    if (JOB_CATALOGUE[name].queue !== queue) throw new Error(`job ${name} does not run on queue ${queue}`);
  }
  const queueName = queueNameFor(queue, settings.partition);
  const observer = settings.observer;
  const worker = new Worker(
    queueName,
    async (job: Job, token?: string) => {
      const name = job.name as JobName;
      const entry = Object.hasOwn(JOB_CATALOGUE, name) ? JOB_CATALOGUE[name] : undefined;
      const handler = handlers[name] as
        | ((payload: unknown, context: JobContext) => Promise<void>)
        | undefined;
      if (!entry || !handler) throw new UnrecoverableError(`no handler for job ${job.name} on ${queue}`);
      const parsed = entry.schema.safeParse(job.data);
      if (!parsed.success) {
        throw new UnrecoverableError(
          `invalid ${name} payload: ${parsed.error.issues.map((i) => i.message).join('; ')}`,
        );
      }
      const maxAttempts = job.opts.attempts ?? 1;
      // Failed runs so far + 1: a wait (moveToDelayed below) and a stall spend no attempt.
      const attempt = job.attemptsMade + 1;
      const started = performance.now();
      const seconds = () => (performance.now() - started) / 1000;
      try {
        await handler(parsed.data, {
          jobId: job.id ?? '',
          attempt,
          maxAttempts,
          isFinalAttempt: attempt >= maxAttempts,
        });
        observer?.ran(queueName, 'completed', seconds());
      } catch (error) {
        const retryable = error instanceof RechargeflowError && error.retryable;
        if (retryable && error.retryAfterMs !== undefined && token !== undefined) {
          observer?.ran(queueName, 'waiting', seconds());
          await job.moveToDelayed(Date.now() + Math.max(0, error.retryAfterMs), token);
          throw new DelayedError();
        }
        observer?.ran(queueName, retryable && attempt < maxAttempts ? 'retry' : 'failed', seconds());
        if (retryable) throw error;
        if (error instanceof UnrecoverableError) throw error;
        throw new UnrecoverableError(error instanceof Error ? error.message : String(error));
      }
    },
    {
      connection,
      prefix: bullPrefix(settings.prefix, queueName, connection),
      concurrency: settings.concurrency,
      lockDuration: settings.lockDurationMs ?? 30_000,
      // Check for stalled jobs as often as a lock can expire, so a crashed worker's job is
      // picked up within about two lock periods.
      stalledInterval: settings.lockDurationMs ?? 30_000,
      // A stalled job is handed to another worker once; the handlers themselves guarantee the
      // provider is not called twice (the ledger's inFlight flag), so redelivery is safe.
      maxStalledCount: 1,
      ...(settings.limiter
        ? { limiter: { max: settings.limiter.max, duration: settings.limiter.durationMs } }
        : {}),
    },
  );
  if (observer) worker.on('stalled', () => observer.stalled(queueName));
  if (settings.onError) worker.on('error', settings.onError);
  if (settings.onFailed) worker.on('failed', (job, error) => settings.onFailed?.(job?.id, error));
  // BullMQ sets finishedOn only when it moves the job to the failed set (no retry follows).
  if (settings.onGaveUp)
    worker.on('failed', (job, error) => {
      if (job?.finishedOn) settings.onGaveUp?.(job.id, error);
    });
  return worker;
}
