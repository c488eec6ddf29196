/** The CSV batch columns (PRODUCT.md), as written in the docs and in results.csv. */
export const BATCH_COLUMNS = [
  'orderId',
  'operator',
  'circle',
  'number',
  'amount',
  'value1',
  'value2',
] as const;
export type BatchColumn = (typeof BATCH_COLUMNS)[number];

/** Columns every upload must have; the others may be left out. */
export const REQUIRED_COLUMNS: readonly BatchColumn[] = ['orderId', 'operator', 'number', 'amount'];

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
    if (column === undefined) extra.push(name.slice(0, 64));
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
      `missing column${missing.length > 1 ? 's' : ''} ${quoted(missing)}: the header must name orderId, operator, number and amount (circle, value1 and value2 are optional)`,
    );
  }
  return problems.length > 0 ? { ok: false, error: problems.join('; ') } : { ok: true, columns };
}
