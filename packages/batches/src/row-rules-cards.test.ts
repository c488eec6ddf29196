import { describe, expect, it } from 'vitest';
import { BATCH_COLUMNS } from './columns.ts';
import { OrderIdSet } from './order-id-set.ts';
import { CARD_REMOVED, RowRules } from './row-rules.ts';

const now = new Date('2026-01-01T00:00:00Z');
const rules = () => new RowRules(BATCH_COLUMNS, new OrderIdSet(), { maxRowBytes: 1_024, now });
const row = (line: string) => line.split(',');
const CARD = '4111111111111111';

describe('RowRules: card numbers by shape, like the API', () => {
  it.each([
    ['orderId', `${CARD},A,5,9876543210,10,,`],
    ['number', `o-1,A,5,4111 1111 1111 1111,10,,`],
    ['circle', `o-1,A,${CARD},9876543210,10,,`],
    ['amount', `o-1,A,5,9876543210,${CARD},,`],
    ['value1', `o-1,LAT,,22334455,100,${CARD},`],
  ])('refuses a card number in %s, and keeps it out of results.csv', (column, line) => {
    const verdict = rules().assess(row(line), 1);
    expect(verdict.ok).toBe(false);
    const error = verdict.ok ? '' : verdict.error;
    expect(error).toMatch(new RegExp(`^${column}: looks like a card number`));
    expect(error).not.toContain('4111');
    expect(verdict.cells[column]).toBe(CARD_REMOVED);
    expect(JSON.stringify(verdict.cells)).not.toContain('4111');
  });

  it('takes a card-shaped account number where a biller is paid against one', () => {
    expect(rules().assess(row(`o-1,IMPS,,${CARD},100,,`), 1).ok).toBe(true);
  });
});
