import { describe, expect, it } from 'vitest';
import { parseHeader } from './columns.ts';

describe('parseHeader', () => {
  it('takes the columns in any order, names in any case, spaces around ignored', () => {
    expect(parseHeader(['Amount', ' NUMBER ', 'orderid', 'Operator', 'value2', 'CIRCLE', 'Value1'])).toEqual({
      ok: true,
      columns: ['amount', 'number', 'orderId', 'operator', 'value2', 'circle', 'value1'],
    });
    expect(parseHeader(['orderId', 'operator', 'number', 'amount'])).toEqual({
      ok: true,
      columns: ['orderId', 'operator', 'number', 'amount'],
    });
  });

  it('refuses extra columns by name, listing the allowed ones', () => {
    const result = parseHeader(['orderId', 'operator', 'number', 'amount', 'colour', 'Size']);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toBe(
      'extra columns "colour", "Size": allowed columns are orderId, operator, circle, number, amount, value1, value2',
    );
    expect(
      !result.ok && parseHeader(['orderId', 'operator', 'number', 'amount', 'colour']).ok === false,
    ).toBe(true);
    const one = parseHeader(['orderId', 'operator', 'number', 'amount', 'colour']);
    expect(!one.ok && one.error).toMatch(/^extra column "colour": allowed columns are orderId, /);
  });

  it('refuses missing required columns, unnamed and repeated ones, all in one message', () => {
    const missing = parseHeader(['orderId', 'operator', 'circle']);
    expect(!missing.ok && missing.error).toMatch(/^missing columns "number", "amount": the header must name/);
    const messy = parseHeader(['orderId', 'operator', 'number', 'amount', 'AMOUNT', '', 'x']);
    expect(messy.ok).toBe(false);
    const error = messy.ok ? '' : messy.error;
    expect(error).toContain('extra column "x"');
    expect(error).toContain('column 6 of the header has no name');
    expect(error).toContain('column "amount" appears more than once');
  });
});
