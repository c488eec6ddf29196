import { JOB_CATALOGUE, type QueueName } from './job-catalogue.ts';
import type { JobProducer } from './producer.ts';

/** The BullMQ job states a queue gauge reports. */
export const JOB_STATES = [
  'waiting',
  'prioritized',
  'delayed',
  'active',
  'waiting-children',
  'completed',
  'failed',
] as const;

export type JobState = (typeof JOB_STATES)[number];

export interface QueueStats {
  /** BullMQ queue name, e.g. `recharges-a1topup`. */
  readonly queue: string;
  readonly jobs: Readonly<Record<JobState, number>>;
  /** Worker connections BullMQ sees on the queue now (its client list), across processes. */
  readonly workers: number;
}

/**
 * Job counts by state and live workers of every queue of the catalogue, `recharges` once per
 * provider. Read on demand (a metrics scrape), a few Redis round trips per queue.
 */
export async function readQueueStats(
  producer: JobProducer,
  providers: readonly string[],
): Promise<readonly QueueStats[]> {
  const names = new Set<QueueName>(Object.values(JOB_CATALOGUE).map((entry) => entry.queue));
  const queues = [...names].flatMap((name) =>
    name === JOB_CATALOGUE.recharge.queue
      ? providers.map((provider) => producer.queue(name, provider))
      : [producer.queue(name)],
  );
  return Promise.all(
    queues.map(async (queue) => {
      const [counts, workers] = await Promise.all([
        queue.getJobCounts(...JOB_STATES),
        queue.getWorkersCount(),
      ]);
      const jobs = Object.fromEntries(JOB_STATES.map((state) => [state, counts[state] ?? 0])) as Record<
        JobState,
        number
      >;
      return { queue: queue.name, jobs, workers };
    }),
  );
}
