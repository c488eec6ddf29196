import {
  CARD_NUMBER_REMOVED,
  type FieldIssue,
  findCardNumber,
  ID_PATTERN,
  orderIdIssues,
  type RechargeRequest,
  validateRechargeRequest,
} from '@rechargeflow/domain';
import type { BatchColumn } from './columns.ts';
import { formatCount } from './csv-text.ts';
import type { OrderIdSet } from './order-id-set.ts';

/** What results.csv shows in place of a cell refused as a card number. */
export const CARD_REMOVED = CARD_NUMBER_REMOVED;

/** Longest cell kept for results.csv: the input as read, bounded. */
export const MAX_CELL_CHARS = 256;

export type RowVerdict =
  | {
      readonly ok: true;
      readonly cells: Readonly<Record<string, string>>;
      readonly orderId: string;
      readonly request: RechargeRequest;
    }
  | { readonly ok: false; readonly cells: Readonly<Record<string, string>>; readonly error: string };

export interface RowRulesOptions {
  /** Longest row in bytes (UTF-8, cells and the commas between them). */
  readonly maxRowBytes: number;
  /** The clock for rules that need one (a date of birth in the past). */
  readonly now: Date;
}

/** `field: message`, like the API's validation messages, joined. */
export function describeIssues(issues: readonly FieldIssue[]): string {
  return issues.map((issue) => `${issue.field}: ${issue.message}`).join('; ');
}

/** True for a row with nothing in it (`,,,` or spaces): not a data row, like a blank line. */
export function isBlankRecord(record: readonly string[]): boolean {
  for (const cell of record) if (cell.trim() !== '') return false;
  return true;
}

function isOverLength(record: readonly string[], maxBytes: number): boolean {
  let chars = record.length - 1;
  for (const cell of record) chars += cell.length;
  // A UTF-16 unit is 1 to 3 UTF-8 bytes: measure exactly only when the bounds do not decide.
  if (chars > maxBytes) return true;
  if (chars * 3 <= maxBytes) return false;
  return Buffer.byteLength(record.join(',')) > maxBytes;
}

/**
 * A row refused before its fields are read (a wrong number of cells, too long): which cell is
 * which is unknown, so any cell holding a card number is replaced (results.csv shows the cells).
 */
function withoutCards(cells: Record<string, string>): Record<string, string> {
  for (const [column, value] of Object.entries(cells))
    if (findCardNumber(value) !== null) cells[column] = CARD_REMOVED;
  return cells;
}

/**
 * The row rules for one header: the same rules as a single order (the API's), every problem
 * reported in one plain sentence per field. `seen` holds the order ids of earlier rows: a
 * repeated id is refused on the later row (the earlier one keeps its own verdict).
 */
export class RowRules {
  readonly #columns: readonly BatchColumn[];
  /** Where the order id is among the cells (the header requires the column). */
  readonly #orderIdAt: number;
  readonly #seen: OrderIdSet;
  readonly #options: RowRulesOptions;

  constructor(columns: readonly BatchColumn[], seen: OrderIdSet, options: RowRulesOptions) {
    this.#columns = columns;
    this.#orderIdAt = columns.indexOf('orderId');
    this.#seen = seen;
    this.#options = options;
  }

  /** The row's cells by column name, in header order, each bounded to MAX_CELL_CHARS. */
  cellsOf(record: readonly string[]): Record<string, string> {
    const cells: Record<string, string> = {};
    for (let i = 0; i < this.#columns.length; i++) {
      const value = record[i] ?? '';
      cells[this.#columns[i] as string] =
        value.length > MAX_CELL_CHARS ? `${value.slice(0, MAX_CELL_CHARS - 1)}…` : value;
    }
    return cells;
  }

  /**
   * Notes the row's order id as seen (when well formed) and answers the id and the row that
   * used it first (0: this one). Every row goes through here, valid or not, so a resumed import
   * that skips committed rows sees exactly the ids a first run saw.
   */
  noteOrderId(
    record: readonly string[],
    row: number,
  ): { readonly id: string | undefined; readonly firstRow: number } {
    const id = record[this.#orderIdAt]?.trim();
    if (id === undefined || !ID_PATTERN.test(id)) return { id: undefined, firstRow: 0 };
    return { id, firstRow: this.#seen.addOrGet(id, row) };
  }

  assess(record: readonly string[], row: number): RowVerdict {
    const cells = this.cellsOf(record);
    const { id: orderId, firstRow } = this.noteOrderId(record, row);
    const columns = this.#columns.length;
    if (record.length !== columns) {
      return {
        ok: false,
        cells: withoutCards(cells),
        error: `the row has ${record.length} cell${record.length === 1 ? '' : 's'} but the header has ${columns} columns: every row needs one cell per column (empty cells are fine)`,
      };
    }
    if (isOverLength(record, this.#options.maxRowBytes)) {
      return {
        ok: false,
        cells: withoutCards(cells),
        error: `the row is longer than ${formatCount(this.#options.maxRowBytes)} bytes, the limit for one row`,
      };
    }
    // The API's order id rules (an id shaped like a card number is refused as card data), then
    // the file's own: one row per order id.
    const issues: FieldIssue[] = orderIdIssues(record[this.#orderIdAt]?.trim());
    if (issues.length === 0 && firstRow !== 0) {
      issues.push({
        field: 'orderId',
        rule: 'duplicate_in_file',
        message: `${orderId} is already used by row ${formatCount(firstRow)} of this file; every row needs its own orderId`,
      });
    }
    // The cells by column: a column the header leaves out is an absent field, and so is an empty
    // cell (the domain rules trim and treat '' as not given).
    const fields: Partial<Record<BatchColumn, string>> = {};
    this.#columns.forEach((column, i) => {
      fields[column] = record[i];
    });
    const validated = validateRechargeRequest(fields, { now: this.#options.now });
    if (!validated.ok) issues.push(...validated.issues);
    if (issues.length > 0 || !validated.ok || orderId === undefined) {
      // A refused row's cells go to results.csv: never a card number among them.
      for (const issue of issues)
        if (issue.rule === 'card_data_refused' && issue.field in cells) cells[issue.field] = CARD_REMOVED;
      return { ok: false, cells, error: describeIssues(issues) };
    }
    return { ok: true, cells, orderId, request: validated.value };
  }
}
