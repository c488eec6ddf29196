import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { Order } from '@rechargeflow/domain';
import type { LedgerStore } from '../ledger-store.ts';
import { MAX_STALE_LIMIT } from '../orders/order-limits.ts';
import { ARCHIVABLE_STATES, type ArchivedOrderRef } from '../orders/order-retention.ts';
import { dataFileName, runIdOf } from './archive-format.ts';
import { ArchiveFileWriter, appendToIndex, removePartialFiles } from './archive-writer.ts';
import { acquireRunLock } from './run-lock.ts';

/** How often the poller runs retention (the `ledger.retention` job scheduler). */
export const RETENTION_EVERY_MS = 3_600_000;
/** Orders read per ledger page. */
export const RETENTION_PAGE = 500;
/** Orders per archive file: what one commit makes durable before those orders are removed. */
export const RETENTION_FILE_ORDERS = 20_000;
/** Most orders one run archives; the rest wait for the next run (hourly: 2.4 M a day). */
export const RETENTION_MAX_PER_RUN = 100_000;
/** Removal scripts in flight at once (pipelined on the ledger's connection). */
const REMOVE_CONCURRENCY = 64;

/** What a run needs of the ledger. */
export type RetentionLedger = Pick<LedgerStore, 'clock' | 'scanStale' | 'removeArchivedOrder'>;

export interface RetentionOptions {
  /** LEDGER_ARCHIVE_DIR: created when missing. */
  readonly dir: string;
  /** LEDGER_RETENTION: final orders last changed longer ago than this (by the ledger's clock) go. */
  readonly retentionMs: number;
  /** How long an archived order's tombstone (its provider-order claims) stays; default retentionMs. */
  readonly tombstoneMs?: number | undefined;
  readonly pageSize?: number | undefined;
  readonly fileOrders?: number | undefined;
  readonly maxPerRun?: number | undefined;
  /** Checked between pages: true discards the file being written (its orders stay) and ends the run. */
  readonly shouldStop?: (() => boolean) | undefined;
  /** Orders removed from the ledger, reported after each file (metrics). */
  readonly onArchived?: ((count: number) => void) | undefined;
  /** Called once a file is durable and indexed, before its orders are removed (tests: a crash there). */
  readonly afterWrite?: ((file: string) => void | Promise<void>) | undefined;
}

export interface RetentionReport {
  /** Another run holds the directory's lock: nothing was done. */
  readonly skipped?: 'locked' | undefined;
  readonly runId: string;
  /** Orders last changed before this were due (ISO). */
  readonly cutoff: string;
  /** Data files written, in order. */
  readonly files: readonly string[];
  /** Orders written to the archive. */
  readonly written: number;
  /** Of those, removed from the ledger. */
  readonly removed: number;
  /** Not removed: changed after they were read (they stay, and go in a later run). */
  readonly changed: number;
  /** Not removed: already gone (another run removed them). */
  readonly notFound: number;
  /** The run stopped at maxPerRun with more orders due. */
  readonly capped: boolean;
  /** Stopped early (shutdown). */
  readonly stopped: boolean;
  readonly seconds: number;
}

/**
 * One retention run (docs/operations.md, "Retention and the archive"): pages the ledger's final
 * orders (success, failed, reversed) last changed before now - retention, writes them to archive
 * files of at most `fileOrders` orders, and only once a file is fsynced, renamed and indexed removes
 * its orders from the ledger, each by one conditional atomic write (an order that changed since it
 * was read stays). Idempotent and resumable: a run that dies after writing a file and before
 * removing its orders leaves them archived and still in the ledger, and the next run archives them
 * again in a new file (readers keep the highest version; copies of one version are identical).
 * Bounded: one page in memory plus ~100 bytes per order of the current file, at most `maxPerRun`.
 */
export async function runRetention(
  ledger: RetentionLedger,
  options: RetentionOptions,
): Promise<RetentionReport> {
  const started = performance.now();
  const pageSize = Math.min(options.pageSize ?? RETENTION_PAGE, MAX_STALE_LIMIT);
  const fileOrders = options.fileOrders ?? RETENTION_FILE_ORDERS;
  const maxPerRun = options.maxPerRun ?? RETENTION_MAX_PER_RUN;
  const tombstoneMs = options.tombstoneMs ?? options.retentionMs;
  const shouldStop = options.shouldStop ?? (() => false);
  if (!(options.retentionMs > 0)) throw new RangeError('retentionMs must be > 0 (retention off: do not run)');
  const now = await ledger.clock();
  const cutoff = new Date(now.getTime() - options.retentionMs).toISOString();
  const runId = runIdOf(now, randomBytes(3).toString('hex'));
  const report = {
    runId,
    cutoff,
    files: [] as string[],
    written: 0,
    removed: 0,
    changed: 0,
    notFound: 0,
    capped: false,
    stopped: false,
  };
  const done = () => ({ ...report, seconds: (performance.now() - started) / 1000 });

  await mkdir(options.dir, { recursive: true });
  const lock = await acquireRunLock(options.dir);
  if (lock === null) return { ...done(), skipped: 'locked' };
  try {
    await removePartialFiles(options.dir);
    const due = dueOrders(ledger, cutoff, pageSize);
    for (let seq = 1; report.written < maxPerRun; seq += 1) {
      const name = dataFileName(now, runId, seq);
      const writer = new ArchiveFileWriter(options.dir, name);
      const refs: ArchivedOrderRef[] = [];
      const room = Math.min(fileOrders, maxPerRun - report.written);
      try {
        while (refs.length < room) {
          if (shouldStop()) {
            report.stopped = true;
            break;
          }
          const page = await due.take(Math.min(pageSize, room - refs.length));
          if (page.length === 0) break;
          await writer.write(page.map((order) => ({ archivedAt: now.toISOString(), order })));
          for (const order of page) refs.push(refOf(order));
        }
      } catch (error) {
        // Nothing of this file was committed: its orders stay in the ledger for the next run.
        await writer.discard();
        throw error;
      }
      if (report.stopped || refs.length === 0) {
        await writer.discard();
        break;
      }
      await appendToIndex(options.dir, await writer.commit());
      report.files.push(name);
      report.written += refs.length;
      await lock.refresh();
      await options.afterWrite?.(name);
      const removedBefore = report.removed;
      for (let start = 0; start < refs.length; start += REMOVE_CONCURRENCY) {
        const results = await Promise.all(
          refs
            .slice(start, start + REMOVE_CONCURRENCY)
            .map((order) => ledger.removeArchivedOrder({ order, updatedBefore: cutoff, tombstoneMs })),
        );
        for (const result of results) {
          if (result === 'removed') report.removed += 1;
          else if (result === 'changed') report.changed += 1;
          else report.notFound += 1;
        }
      }
      options.onArchived?.(report.removed - removedBefore);
      if (refs.length < room) break;
    }
    report.capped = report.written >= maxPerRun && (await due.more());
    return done();
  } finally {
    await lock.release();
  }
}

/** Only what removal needs: the run does not keep whole orders (with history) past their page. */
function refOf(order: Order): ArchivedOrderRef {
  const { clientId, orderId, providerOrderId, route, state, version, createdAt } = order;
  return { clientId, orderId, providerOrderId, route, state, version, createdAt };
}

/** Due orders across the final states, oldest change first per state, in pages of any size. */
function dueOrders(ledger: RetentionLedger, cutoff: string, pageSize: number) {
  let stateIndex = 0;
  let cursor: string | undefined;
  let buffer: Order[] = [];
  const fill = async (wanted: number): Promise<void> => {
    while (buffer.length < wanted && stateIndex < ARCHIVABLE_STATES.length) {
      const state = ARCHIVABLE_STATES[stateIndex] as (typeof ARCHIVABLE_STATES)[number];
      const page = await ledger.scanStale(state, cutoff, pageSize, cursor);
      buffer = buffer.concat(page.orders);
      cursor = page.nextCursor;
      if (cursor === undefined) stateIndex += 1;
    }
  };
  return {
    async take(count: number): Promise<Order[]> {
      await fill(count);
      return buffer.splice(0, count);
    },
    async more(): Promise<boolean> {
      await fill(1);
      return buffer.length > 0;
    },
  };
}
