import type { Order } from '@rechargeflow/domain';
import type { BatchStore, OrderStore } from '@rechargeflow/ledger';
import { BATCH_COLUMNS } from './columns.ts';
import { csvLine } from './csv-text.ts';

/** Columns results.csv adds after the input columns. */
export const RESULT_COLUMNS = ['status', 'providerOrderId', 'providerRef', 'error'] as const;

export interface ResultsCsvInput {
  readonly ledger: Pick<BatchStore, 'readRows'> & Pick<OrderStore, 'getOrder'>;
  readonly clientId: string;
  readonly batchId: string;
}

/**
 * results.csv, streamed: the input columns in their upload order, then status, providerOrderId,
 * providerRef and error; one line per input row in input order. Accepted rows show their order
 * as it is now (read per chunk of rows, all at once); refused rows show `rejected` and why. Every
 * cell is neutralised against formula injection and quoted as RFC 4180 wants. Yields one string
 * per chunk of rows, so memory holds one chunk whatever the batch size.
 */
export async function* writeResultsCsv(input: ResultsCsvInput): AsyncGenerator<string> {
  const { ledger, clientId } = input;
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
      if (r.orderId === undefined) {
        text += csvLine([...echoed, 'rejected', '', '', r.error ?? 'refused']);
      } else if (order === null || order === undefined) {
        text += csvLine([...echoed, 'unknown', '', '', `order ${r.orderId} is not in the ledger`]);
      } else {
        text += csvLine([...echoed, order.state, order.providerOrderId, order.providerRef ?? '', '']);
      }
    });
    yield text;
  }
  if (columns === undefined) yield csvLine([...BATCH_COLUMNS, ...RESULT_COLUMNS]);
}
