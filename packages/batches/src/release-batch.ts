import type { OrderKey } from '@rechargeflow/domain';
import type { BatchStore, RowResult } from '@rechargeflow/ledger';
import type { OrderLog } from '@rechargeflow/orders';
import { batchReleaseJobId, rechargeJobId } from '@rechargeflow/queue';
import { ReleaseWaitError } from './release-wait-error.ts';

/**
 * The most recharge jobs waiting to start on a provider's queue for a batch to add more: past it a
 * batch's orders wait in the ledger, `queued`, and its release hands them over as the queue drains.
 * A million-row file then costs the queue ~10,000 waiting jobs, not a million (~500 MB of Redis), an
 * order sent on its own waits behind at most that many, and the import takes about the time of
 * writing its orders (docs/orders.md, "Batches"; docs/benchmarks.md).
 */
export const DEFAULT_RELEASE_BACKLOG = 10_000;

/** How long a release waits before it looks again at a full queue or an import still running. */
export const RELEASE_WAIT_MS = 1_000;

/** Where recharge jobs go, and how many wait on a provider's queue: JobProducer, or a stand-in. */
export interface RechargeJobSink {
  enqueueBulk(
    name: 'recharge',
    jobs: readonly { readonly payload: OrderKey; readonly jobId: string }[],
    partition?: string,
  ): Promise<void>;
  /** Jobs waiting to start on the queue of `name` (on `partition`: a provider's own queue). */
  backlog(name: 'recharge', partition?: string): Promise<number>;
}

/** A recharge job of an order on its provider's queue. */
export type RechargeJob = { readonly payload: OrderKey; readonly jobId: string };

/** A batch's release job, added where it is missing or retried where it failed (JobProducer). */
export interface ReleaseJobSink {
  ensureQueued(
    name: 'batch.release',
    payload: { clientId: string; batchId: string },
    jobId: string,
  ): Promise<unknown>;
}

export type ReleaseLedger = Pick<BatchStore, 'getBatch' | 'readRowChunk' | 'releaseRows' | 'queuedProviders'>;

export interface ReleaseDeps {
  readonly ledger: ReleaseLedger;
  readonly producer: RechargeJobSink;
  readonly log: OrderLog;
  /** Told the rows of each commit this run released (for metrics). */
  readonly onRowsReleased?: ((rows: number) => void) | undefined;
}

export interface ReleaseSettings {
  /** See DEFAULT_RELEASE_BACKLOG. */
  readonly backlog?: number | undefined;
  /**
   * The providers enabled here (PROVIDERS): while every one of their queues is full, a release
   * waits without reading the next chunk back (a waiting release would otherwise read a chunk and
   * its orders every RELEASE_WAIT_MS). Absent: the chunk is read to find its providers.
   */
  readonly providers?: readonly string[] | undefined;
  /** See RELEASE_WAIT_MS. */
  readonly waitMs?: number | undefined;
}

export type ReleaseOutcome =
  /** Every committed row of the finished import is released (`rows` of them). */
  { readonly kind: 'released'; readonly rows: number } | { readonly kind: 'not_found' };

/**
 * Whether a chunk's jobs may go to the queues of `providers`: yes when it has none, or when at least
 * one of them holds fewer than `limit` jobs waiting. Waiting only while every one is full keeps a
 * queue that stays full (its provider rate-limited, or nothing consuming it) from holding back the
 * batch's orders for the others: its share of each chunk goes in anyway, as before releases.
 */
export async function queuesHaveRoom(
  producer: RechargeJobSink,
  providers: Iterable<string>,
  limit: number,
): Promise<boolean> {
  const list = [...providers];
  if (list.length === 0) return true;
  const backlogs = await Promise.all(list.map((provider) => producer.backlog('recharge', provider)));
  return backlogs.some((waiting) => waiting < limit);
}

/** Adds a job per provider list (ids already present are ignored by the queue). */
export async function addRechargeJobs(
  producer: RechargeJobSink,
  jobs: ReadonlyMap<string, readonly RechargeJob[]>,
): Promise<void> {
  await Promise.all([...jobs].map(([provider, list]) => producer.enqueueBulk('recharge', list, provider)));
}

/**
 * The jobs of one committed chunk: the order of every accepted row that is still `queued`, on its
 * own provider's queue. Rows refused, orders gone on (sent, final) or missing get none.
 */
async function jobsOfChunk(
  ledger: ReleaseLedger,
  clientId: string,
  chunk: readonly RowResult[],
): Promise<Map<string, RechargeJob[]>> {
  const keys: OrderKey[] = [];
  for (const row of chunk) {
    if (row.orderId !== undefined && row.error === undefined) keys.push({ clientId, orderId: row.orderId });
  }
  const providers = await ledger.queuedProviders(keys);
  const jobs = new Map<string, RechargeJob[]>();
  keys.forEach((key, i) => {
    const provider = providers[i];
    if (provider === null || provider === undefined) return;
    let list = jobs.get(provider);
    if (list === undefined) {
      list = [];
      jobs.set(provider, list);
    }
    list.push({ payload: key, jobId: rechargeJobId(key, provider) });
  });
  return jobs;
}

/**
 * Hands a batch's orders to the queue, a commit at a time from the row after `rowsReleased`, while
 * a provider queue it adds to holds fewer than `backlog` waiting jobs (queuesHaveRoom). Each commit:
 * its rows read back, which of their orders are still `queued` and on which provider
 * (queuedProviders), their jobs added, then the checkpoint moved on (`releaseRows`). A crash in
 * between adds the same jobs again on the next run: the same job ids, and a job that runs again
 * cannot send an order twice (the worker's claim in the ledger allows one call per attempt). Throws
 * ReleaseWaitError while the queues are full or the import has rows still to commit; answers
 * `released` once the finished import's rows are all released.
 */
export async function releaseBatch(
  deps: ReleaseDeps,
  key: { readonly clientId: string; readonly batchId: string },
  settings: ReleaseSettings = {},
): Promise<ReleaseOutcome> {
  const { ledger, producer } = deps;
  const { clientId, batchId } = key;
  const limit = settings.backlog ?? DEFAULT_RELEASE_BACKLOG;
  const waitMs = settings.waitMs ?? RELEASE_WAIT_MS;
  for (;;) {
    const batch = await ledger.getBatch(clientId, batchId);
    if (batch === null) return { kind: 'not_found' };
    if (batch.rowsReleased >= batch.rowsCommitted) {
      switch (batch.state) {
        case 'stored':
        case 'importing':
          throw new ReleaseWaitError('the import has not committed the next rows yet', {
            retryAfterMs: waitMs,
            batchId,
          });
        case 'imported':
        case 'done':
          return { kind: 'released', rows: batch.rowsReleased };
        default:
          return batch.state satisfies never;
      }
    }
    if (settings.providers !== undefined && !(await queuesHaveRoom(producer, settings.providers, limit))) {
      throw new ReleaseWaitError('the providers’ queues are full', { retryAfterMs: waitMs, batchId });
    }
    const firstRow = batch.rowsReleased + 1;
    const chunk = await ledger.readRowChunk(batchId, firstRow);
    if (chunk === null || chunk.length === 0) {
      throw new Error(`batch ${batchId}: no committed rows start at row ${firstRow}, below rowsCommitted`);
    }
    const jobs = await jobsOfChunk(ledger, clientId, chunk);
    if (!(await queuesHaveRoom(producer, jobs.keys(), limit))) {
      throw new ReleaseWaitError('the providers’ queues are full', { retryAfterMs: waitMs, batchId });
    }
    await addRechargeJobs(producer, jobs);
    // False: another run released these rows first; the next turn reads where it left them.
    if (await ledger.releaseRows(batchId, firstRow, chunk.length)) deps.onRowsReleased?.(chunk.length);
  }
}

/**
 * After an import, whatever its outcome: makes sure the batch's release job will run (added when
 * missing, retried when it failed) when the batch has committed rows not released yet; a batch the
 * import released whole (the usual small one) needs none. The recovery sweep makes sure of the same
 * job for a batch whose `queued` orders wait unreleased (packages/orders, requeue-stranded.ts).
 */
export async function queueRelease(
  deps: { readonly ledger: Pick<BatchStore, 'getBatch'>; readonly producer: ReleaseJobSink },
  key: { readonly clientId: string; readonly batchId: string },
): Promise<void> {
  const batch = await deps.ledger.getBatch(key.clientId, key.batchId);
  if (batch === null || batch.rowsReleased >= batch.rowsCommitted) return;
  await deps.producer.ensureQueued(
    'batch.release',
    { clientId: key.clientId, batchId: key.batchId },
    batchReleaseJobId(key.batchId),
  );
}
