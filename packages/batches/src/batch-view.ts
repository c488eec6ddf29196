import { ORDER_STATES, type OrderState } from '@rechargeflow/domain';
import type { Batch, BatchState, BatchStore } from '@rechargeflow/ledger';

/** Order states that are still moving: a batch with members in them is not done. */
const UNSETTLED: readonly OrderState[] = ['queued', 'processing', 'pending'];

/**
 * A batch's state as the API shows it: the stored state, `done` (imported, no order moving), or
 * `stopped` (reading stopped before the end of the file; final, never `done`).
 */
export const BATCH_VIEW_STATES = ['stored', 'importing', 'imported', 'done', 'stopped'] as const;
export type BatchViewState = (typeof BATCH_VIEW_STATES)[number];

export interface BatchView {
  readonly batchId: string;
  /**
   * `done` is computed: imported, and no member order is queued, processing or pending. `stopped`:
   * the import ended early (`stoppedReason`, `stoppedAtLine`); the orders of the rows read before
   * still move on, as `orders` shows.
   */
  readonly state: BatchViewState;
  readonly filename: string | null;
  readonly bytes: number;
  /**
   * Rows read, accepted and rejected; `notRead`: rows after the place reading stopped; `released`:
   * rows whose orders have been handed to the queue (a big batch's orders wait in the ledger,
   * `queued`, until the provider queues have room).
   */
  readonly rows: {
    readonly read: number;
    readonly accepted: number;
    readonly rejected: number;
    readonly notRead: number;
    readonly released: number;
  };
  /** Member orders by state now, every state present (0 when none). */
  readonly orders: Readonly<Record<OrderState, number>>;
  /** True once the import has ended (done, or stopped) and no order of the batch is still moving. */
  readonly settled: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Why reading stopped (a wrong header, an unclosed quote, bytes that are not UTF-8), else null. */
  readonly stoppedReason: string | null;
  /** The line of the file (1-based; the header is line 1) where reading stopped, else null. */
  readonly stoppedAtLine: number | null;
  /** The same as stoppedReason (the name older clients read). */
  readonly error: string | null;
}

/** The state the API shows for a stored batch and whether any of its orders still moves. */
export function batchViewState(batch: Pick<Batch, 'state' | 'error'>, moving: boolean): BatchViewState {
  const state: BatchState = batch.state;
  if (state === 'imported' && batch.error !== undefined) return 'stopped';
  return state === 'imported' && !moving ? 'done' : state;
}

/**
 * What the API shows for a batch. `done` and `stopped` are derived here on every read rather than
 * stored: `done` needs no writer (no job has to notice the last order settling), and it cannot go
 * stale, since a settled order only moves on to another settled state (success → reversed) or a
 * person's decision (manual_review → success | failed). A stopped batch is stored `imported` with
 * its `error`: its import has ended like any other, and its bytes stop counting as pending.
 */
export async function batchView(ledger: Pick<BatchStore, 'batchStates'>, batch: Batch): Promise<BatchView> {
  const counts = await ledger.batchStates(batch.batchId);
  const orders = Object.fromEntries(ORDER_STATES.map((s) => [s, counts[s] ?? 0])) as Record<
    OrderState,
    number
  >;
  const moving = UNSETTLED.some((s) => orders[s] > 0);
  const state = batchViewState(batch, moving);
  return {
    batchId: batch.batchId,
    state,
    filename: batch.filename ?? null,
    bytes: batch.bytes,
    // While importing, committed rows are the progress; rowsRead is set when the import ends.
    rows: {
      read: Math.max(batch.rowsRead, batch.rowsCommitted),
      accepted: batch.accepted,
      rejected: batch.rejected,
      notRead: batch.error === undefined ? 0 : (batch.rowsNotRead ?? 0),
      released: batch.rowsReleased,
    },
    orders,
    settled: (state === 'done' || state === 'stopped') && !moving,
    createdAt: batch.createdAt,
    updatedAt: batch.updatedAt,
    stoppedReason: batch.error ?? null,
    stoppedAtLine: batch.error === undefined ? null : (batch.stoppedAtLine ?? null),
    error: batch.error ?? null,
  };
}
