import { describe, expect, it } from 'vitest';
import { BATCH_COLUMNS, parseHeader } from './columns.ts';
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

// Found by the fuzz run (packages/http/test/fuzz.test.ts): a row refused before its fields are
// read, and a header naming an unknown column, repeated the card number in results.csv and in the
// batch's error (stored, logged by the importer).
describe('card numbers in rows refused for their shape, and in the header', () => {
  it.each([
    ['one cell too many', `o-1,A,5,${CARD},10,,,x`],
    ['a card where the operator goes, one cell too many', `o-1,${CARD},5,9876543210,10,,,x`],
    ['cells missing', `o-1,4111 1111 1111 1111,5`],
    ['longer than a row may be', `o-1,A,5,4111-1111-1111-1111,10,${'x'.repeat(1_100)},`],
  ])('%s: refused, and results.csv shows no card number', (_name, line) => {
    const verdict = rules().assess(row(line), 1);
    expect(verdict.ok).toBe(false);
    expect(JSON.stringify(verdict)).not.toMatch(/4111[\s-]?1111/);
    expect(Object.values(verdict.cells)).toContain(CARD_REMOVED);
  });

  it('names an unknown column without the card number written in it', () => {
    for (const cell of [CARD, 'pay with 4111 1111 1111 1111', '4111-1111-1111-1111']) {
      const header = parseHeader([...BATCH_COLUMNS, cell]);
      expect(header.ok).toBe(false);
      const error = header.ok ? '' : header.error;
      expect(error).toMatch(/^extra column "/);
      expect(error).toContain('[card number removed]');
      expect(error).not.toMatch(/4111[\s-]?1111/);
    }
    // Any other name is still named back as written.
    expect(parseHeader([...BATCH_COLUMNS, 'phone 9876543210'])).toEqual({
      ok: false,
      error: expect.stringContaining('"phone 9876543210"'),
    });
  });
});
