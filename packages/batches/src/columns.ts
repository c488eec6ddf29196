import {
  maskCardNumbers,
  RECHARGE_COLUMNS,
  REQUIRED_RECHARGE_FIELDS,
  type RechargeColumn,
} from '@rechargeflow/domain';

/** The CSV batch columns (docs/product.md, "The external contract"), as in docs/api.md and results.csv. */
export const BATCH_COLUMNS: readonly BatchColumn[] = RECHARGE_COLUMNS;
/** A column: a request field a cell can hold (RECHARGE_REQUEST_FIELDS in the domain). */
export type BatchColumn = RechargeColumn;

/** Columns every upload must have; the others may be left out. */
export const REQUIRED_COLUMNS: readonly BatchColumn[] = BATCH_COLUMNS.filter((column) =>
  REQUIRED_RECHARGE_FIELDS.includes(column),
);
const OPTIONAL_COLUMNS = BATCH_COLUMNS.filter((column) => !REQUIRED_COLUMNS.includes(column));

const BY_LOWER_NAME: ReadonlyMap<string, BatchColumn> = new Map(
  BATCH_COLUMNS.map((c) => [c.toLowerCase(), c]),
);

export type HeaderResult =
  /** `columns[i]` is the column of cell `i` of every row, in upload order. */
  | { readonly ok: true; readonly columns: readonly BatchColumn[] }
  /** Every problem with the header, in words, joined. */
  | { readonly ok: false; readonly error: string };

const ALLOWED = `allowed columns are ${BATCH_COLUMNS.join(', ')}`;

function quoted(names: readonly string[]): string {
  return names.map((n) => JSON.stringify(n)).join(', ');
}

/** `a, b and c`. */
function listed(names: readonly string[]): string {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/**
 * Reads the header row: names match case-insensitively (surrounding spaces ignored), in any
 * order. An unknown, unnamed, repeated or missing required column stops the whole batch: guessing
 * which cell is the amount is not something to do with money.
 */
export function parseHeader(cells: readonly string[]): HeaderResult {
  const columns: BatchColumn[] = [];
  const extra: string[] = [];
  const unnamed: number[] = [];
  const repeated = new Set<BatchColumn>();
  cells.forEach((cell, index) => {
    const name = cell.trim();
    if (name === '') {
      unnamed.push(index + 1);
      return;
    }
    const column = BY_LOWER_NAME.get(name.toLowerCase());
    // Named back in the batch's error (stored, logged): never a card number written there.
    if (column === undefined) extra.push(maskCardNumbers(name).slice(0, 64));
    else if (columns.includes(column)) repeated.add(column);
    else columns.push(column);
  });
  const problems: string[] = [];
  if (extra.length > 0) {
    problems.push(`extra column${extra.length > 1 ? 's' : ''} ${quoted(extra)}: ${ALLOWED}`);
  }
  if (unnamed.length > 0) {
    problems.push(
      `column${unnamed.length > 1 ? 's' : ''} ${unnamed.join(', ')} of the header ${unnamed.length > 1 ? 'have' : 'has'} no name: ${ALLOWED}`,
    );
  }
  if (repeated.size > 0) {
    problems.push(`column ${quoted([...repeated])} appears more than once in the header`);
  }
  const missing = REQUIRED_COLUMNS.filter((c) => !columns.includes(c));
  if (missing.length > 0) {
    problems.push(
      `missing column${missing.length > 1 ? 's' : ''} ${quoted(missing)}: the header must name ${listed(REQUIRED_COLUMNS)} (${listed(OPTIONAL_COLUMNS)} are optional)`,
    );
  }
  return problems.length > 0 ? { ok: false, error: problems.join('; ') } : { ok: true, columns };
}
