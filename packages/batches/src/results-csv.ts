import type { Order } from '@rechargeflow/domain';
import type { Batch, BatchStore, OrderStore } from '@rechargeflow/ledger';
import { BATCH_COLUMNS } from './columns.ts';
import { csvLine, formatCount } from './csv-text.ts';
import { cleanReason, orderReason } from './order-reason.ts';

/** Columns results.csv adds after the input columns. */
export const RESULT_COLUMNS = ['status', 'providerOrderId', 'providerRef', 'error', 'reason'] as const;

/** The status of an input row that was never read (reading stopped at or before it). */
export const NOT_READ = 'not_read';

/** Lines of rows not read written per piece yielded. */
const NOT_READ_LINES_PER_PIECE = 1_000;

export interface ResultsCsvInput {
  readonly ledger: Pick<BatchStore, 'readRows' | 'getBatch'> & Pick<OrderStore, 'getOrder'>;
  readonly clientId: string;
  readonly batchId: string;
  /** The batch, when the caller has read it already (else it is read here). */
  readonly batch?: Batch | undefined;
}

/** What a row that was never read says: why reading stopped, and at which line of the file. */
export function notReadReason(batch: Pick<Batch, 'error' | 'stoppedAtLine'>): string {
  const where = batch.stoppedAtLine === undefined ? '' : ` at line ${formatCount(batch.stoppedAtLine)}`;
  return cleanReason(`not read: reading the file stopped${where}: ${batch.error ?? 'the import stopped'}`);
}

/**
 * results.csv, streamed: the input columns in their upload order, then status, providerOrderId,
 * providerRef, error and reason; one line per input row in input order.
 * - A refused row: status `rejected`; `error` and `reason` say why.
 * - An accepted row: its order as it is now (read per chunk of rows, all at once): status is the
 *   order's state; `reason` is empty for `success`, else why in plain words (orderReason: the note
 *   of the transition into `failed`, `manual_review` or `reversed`; what a moving order waits for).
 * - When reading stopped early (a broken quote, bytes that are not UTF-8, a wrong header), every
 *   row from the one it stopped at to the end of the file: status `not_read`, empty cells (they
 *   could not be read), `error` and `reason` naming the line and why.
 * Every cell is neutralised against formula injection and quoted as RFC 4180 wants. Yields one
 * string per chunk of rows, so memory holds one chunk whatever the batch size.
 */
export async function* writeResultsCsv(input: ResultsCsvInput): AsyncGenerator<string> {
  const { ledger, clientId } = input;
  const batch = input.batch ?? (await ledger.getBatch(clientId, input.batchId));
  let columns: readonly string[] | undefined;
  for await (const rows of ledger.readRows(input.batchId)) {
    if (rows.length === 0) continue;
    if (columns === undefined) {
      // Every row of a batch has the same cells, in the header's order (see RowRules.cellsOf).
      columns = Object.keys((rows[0] as (typeof rows)[number]).cells);
      yield csvLine([...columns, ...RESULT_COLUMNS]);
    }
    const orders = await Promise.all(
      rows.map((r): Promise<Order | null> | null =>
        r.orderId === undefined ? null : ledger.getOrder({ clientId, orderId: r.orderId }),
      ),
    );
    let text = '';
    rows.forEach((r, i) => {
      const echoed = (columns as readonly string[]).map((c) => r.cells[c] ?? '');
      const order = orders[i];
      if (r.orderId === undefined || r.error !== undefined) {
        const error = r.error ?? 'refused';
        text += csvLine([...echoed, 'rejected', '', '', error, error]);
      } else if (order === null || order === undefined) {
        const missing = `order ${r.orderId} is not in the ledger`;
        text += csvLine([...echoed, 'unknown', '', '', missing, missing]);
      } else {
        text += csvLine([
          ...echoed,
          order.state,
          order.providerOrderId,
          order.providerRef ?? '',
          '',
          orderReason(order),
        ]);
      }
    });
    yield text;
  }
  if (columns === undefined) {
    columns = BATCH_COLUMNS;
    yield csvLine([...columns, ...RESULT_COLUMNS]);
  }
  const notRead = batch?.error === undefined ? 0 : (batch.rowsNotRead ?? 0);
  if (notRead === 0 || batch === null || batch === undefined) return;
  const reason = notReadReason(batch);
  const line = csvLine([...columns.map(() => ''), NOT_READ, '', '', reason, reason]);
  for (let written = 0; written < notRead; written += NOT_READ_LINES_PER_PIECE) {
    yield line.repeat(Math.min(NOT_READ_LINES_PER_PIECE, notRead - written));
  }
}
