import { ORDER_STATES, type OrderState } from '@rechargeflow/domain';
import type { Batch, BatchState, BatchStore } from '@rechargeflow/ledger';

/** Order states that are still moving: a batch with members in them is not done. */
const UNSETTLED: readonly OrderState[] = ['queued', 'processing', 'pending'];

export interface BatchView {
  readonly batchId: string;
  /** `done` is computed: imported, and no member order is queued, processing or pending. */
  readonly state: BatchState;
  readonly filename: string | null;
  readonly bytes: number;
  readonly rows: { readonly read: number; readonly accepted: number; readonly rejected: number };
  /** Member orders by state now, every state present (0 when none). */
  readonly orders: Readonly<Record<OrderState, number>>;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Why the import stopped (a wrong header, an unreadable row), else null. */
  readonly error: string | null;
}

/**
 * What the API shows for a batch. `done` is derived here on every read rather than stored: it
 * needs no writer (no job has to notice the last order settling), and it cannot go stale, since
 * a settled order only moves on to another settled state (success → reversed) or a person's
 * decision (manual_review → success | failed).
 */
export async function batchView(ledger: Pick<BatchStore, 'batchStates'>, batch: Batch): Promise<BatchView> {
  const counts = await ledger.batchStates(batch.batchId);
  const orders = Object.fromEntries(ORDER_STATES.map((s) => [s, counts[s] ?? 0])) as Record<
    OrderState,
    number
  >;
  const moving = UNSETTLED.some((s) => orders[s] > 0);
  const state: BatchState = batch.state === 'imported' && !moving ? 'done' : batch.state;
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
    },
    orders,
    createdAt: batch.createdAt,
    updatedAt: batch.updatedAt,
    error: batch.error ?? null,
  };
}
