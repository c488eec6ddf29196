import { describe, expect, it } from 'vitest';
import { BATCH_COLUMNS } from './columns.ts';
import { OrderIdSet } from './order-id-set.ts';
import { isBlankRecord, MAX_CELL_CHARS, RowRules } from './row-rules.ts';

const now = new Date('2026-01-01T00:00:00Z');
const rules = (maxRowBytes = 1_024) => new RowRules(BATCH_COLUMNS, new OrderIdSet(), { maxRowBytes, now });
const row = (line: string) => line.split(',');

describe('RowRules', () => {
  it('accepts a valid row and normalises it like the API', () => {
    const verdict = rules().assess(row(' o-1 ,a,5,+91 98765 43210,199.50,,'), 1);
    expect(verdict).toMatchObject({
      ok: true,
      orderId: 'o-1',
      request: { operator: 'A', number: '9876543210', amount: 19_950 },
    });
    // The cells stay as read, for results.csv.
    expect(verdict.cells).toEqual({
      orderId: ' o-1 ',
      operator: 'a',
      circle: '5',
      number: '+91 98765 43210',
      amount: '199.50',
      value1: '',
      value2: '',
    });
  });

  it('names every field and its rule, like the API', () => {
    const verdict = rules().assess(row('bad id!,NOPE,5,12,-3,,'), 1);
    expect(verdict.ok).toBe(false);
    const error = verdict.ok ? '' : verdict.error;
    expect(error).toMatch(/^orderId: must be 1-64 letters/);
    expect(error).toContain('operator: is not a known operator code');
    expect(error).toContain('number: is not a mobile number');
    expect(error).toContain('amount: must be more than 0 rupees');
  });

  it('needs an orderId, and value1 where the biller wants it', () => {
    const noId = rules().assess(row(',A,5,9876543210,10,,'), 1);
    expect(!noId.ok && noId.error).toBe('orderId: is required: your own unique id for this order');
    const landline = rules().assess(row('l-1,LAT,,22334455,100,,'), 1);
    expect(!landline.ok && landline.error).toMatch(/^value1: is required: the STD code/);
  });

  it('refuses an order id used by an earlier row, on the later row only', () => {
    const r = rules();
    expect(r.assess(row('dup,A,5,9876543210,10,,'), 1).ok).toBe(true);
    expect(r.assess(row('other,A,5,9876543210,10,,'), 2).ok).toBe(true);
    const again = r.assess(row('dup,A,5,9876543210,10,,'), 3);
    expect(!again.ok && again.error).toBe(
      'orderId: dup is already used by row 1 of this file; every row needs its own orderId',
    );
  });

  it('refuses a row whose cells do not match the header, or that is too long', () => {
    const short = rules().assess(row('o-1,A,5,9876543210,10'), 1);
    expect(!short.ok && short.error).toMatch(/^the row has 5 cells but the header has 7 columns/);
    const long = rules(40).assess(row(`o-1,A,5,9876543210,10,${'x'.repeat(30)},`), 1);
    expect(!long.ok && long.error).toBe('the row is longer than 40 bytes, the limit for one row');
  });

  it('keeps cells bounded', () => {
    const verdict = rules(100_000).assess(row(`o-1,A,5,9876543210,10,${'y'.repeat(5_000)},`), 1);
    expect(verdict.cells.value1).toHaveLength(MAX_CELL_CHARS);
  });

  it('knows a blank row', () => {
    expect(isBlankRecord(['', ' ', ''])).toBe(true);
    expect(isBlankRecord(['', 'x'])).toBe(false);
  });
});
