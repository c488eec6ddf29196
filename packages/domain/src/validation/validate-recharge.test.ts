import { describe, expect, it } from 'vitest';
import { paise } from '../amount.ts';
import { OPERATOR_CATEGORIES, type OperatorCategory } from '../catalogue/operators.ts';
import type { FieldIssue } from '../errors.ts';
import type { RechargeRequest } from '../order.ts';
import { AMOUNT_BOUNDS, formatRupeesForPeople } from './amount-bounds.ts';
import { type RechargeRequestInput, validateRechargeRequest } from './validate-recharge.ts';

const NOW = new Date('2025-06-15T10:00:00Z');

function valid(input: RechargeRequestInput): RechargeRequest {
  const result = validateRechargeRequest(input, { now: NOW });
  if (!result.ok) throw new Error(`expected valid, got ${JSON.stringify(result.issues)}`);
  return result.value;
}

function issuesOf(input: RechargeRequestInput): FieldIssue[] {
  const result = validateRechargeRequest(input, { now: NOW });
  if (result.ok) throw new Error(`expected issues, got ${JSON.stringify(result.value)}`);
  for (const issue of result.issues) expect(issue.message.length, JSON.stringify(issue)).toBeGreaterThan(10);
  return result.issues;
}

/** The (field, rule) pairs reported, in order. */
function rulesOf(input: RechargeRequestInput): string[] {
  return issuesOf(input).map((issue) => `${issue.field}:${issue.rule}`);
}

/** One valid request per category (amount left out so tests can vary it). */
const VALID: Record<OperatorCategory, RechargeRequestInput> = {
  mobile: { operator: 'A', number: '9876543210' },
  postpaid_mobile: { operator: 'PAT', number: '9123456789' },
  landline: { operator: 'LAT', number: '23456789', value1: '011' },
  dth: { operator: 'ATV', number: '3012345678' },
  electricity: { operator: 'BSES', number: 'CA1234567' },
  gas: { operator: 'IG', number: '700012345678' },
  insurance: { operator: 'TAI', number: 'U123/456-7', value1: '15-08-1985' },
  money_transfer: { operator: 'IMPS', number: '123456789012' },
  data_card: { operator: 'RNET3', number: 'ABCD1234' },
  fastag: { operator: 'AXF', number: 'MH12AB1234' },
  other: { operator: 'GLF', number: 'GPLAY1234' },
};

describe('validateRechargeRequest: valid requests', () => {
  it.each(OPERATOR_CATEGORIES.map((category) => [category] as const))(
    'accepts a valid %s request',
    (category) => {
      const input = { ...VALID[category], amount: '100' };
      const value = valid(input);
      expect(value.operator).toBe(input.operator);
      expect(value.number).toBe(input.number);
      expect(value.amount).toBe(10_000);
      expect(value.value1).toBe(input.value1);
    },
  );

  it('returns the canonical request: codes, paise, absent optionals left out', () => {
    expect(
      valid({
        operator: ' atv ',
        circle: 'delhi',
        number: '3012345678',
        amount: '199.50',
        value1: '',
        value2: '  ',
      }),
    ).toStrictEqual({ operator: 'ATV', circle: '5', number: '3012345678', amount: 19_950 });
    expect(valid({ operator: 'a', number: 9876543210, amount: 10 })).toStrictEqual({
      operator: 'A',
      number: '9876543210',
      amount: 1000,
    });
    expect(valid({ operator: 'A', circle: 5, number: '9876543210', amount: 10.5 }).circle).toBe('5');
    expect(valid({ operator: 'A', circle: ' 4 ', number: '9876543210', amount: '10' }).circle).toBe('4');
  });

  it('validates the duplicated MPPKVCLPU code as electricity', () => {
    expect(valid({ operator: 'MPPKVCLPU', number: '1234567890', amount: '1500' }).operator).toBe('MPPKVCLPU');
  });
});

describe('mobile number normalisation', () => {
  it.each([
    ['+91 98765 43210'],
    ['+91-98765-43210'],
    ['+919876543210'],
    ['919876543210'],
    ['09876543210'],
    ['98765 43210'],
    ['98765-43210'],
    [' 9876543210 '],
  ])('turns %j into 10 digits', (number) => {
    expect(valid({ operator: 'A', number, amount: '10' }).number).toBe('9876543210');
    expect(valid({ operator: 'PAT', number, amount: '10' }).number).toBe('9876543210');
  });

  it('keeps a 10-digit number that starts with 91 as it is', () => {
    expect(valid({ operator: 'A', number: '9198765432', amount: '10' }).number).toBe('9198765432');
  });

  it.each([
    ['5876543210'],
    ['987654321'],
    ['98765432101'],
    ['+44 7911123456'],
    ['+9198765432'],
    ['0 5876543210'],
    ['98765a3210'],
  ])('refuses %j', (number) => {
    const issues = issuesOf({ operator: 'A', number, amount: '10' });
    expect(issues).toEqual([
      {
        field: 'number',
        rule: 'mobile_number',
        message: 'must be a 10-digit Indian mobile number starting with 6, 7, 8 or 9',
      },
    ]);
  });
});

describe('validateRechargeRequest: every rule', () => {
  it('operator: required, known, text', () => {
    expect(rulesOf({ number: '9876543210', amount: '10' })).toEqual(['operator:required']);
    expect(rulesOf({ operator: '', number: '9876543210', amount: '10' })).toEqual(['operator:required']);
    expect(rulesOf({ operator: 'ZZZ', number: '9876543210', amount: '10' })).toEqual([
      'operator:operator_known',
    ]);
    expect(rulesOf({ operator: 'Airtel', number: '9876543210', amount: '10' })).toEqual([
      'operator:operator_known',
    ]);
    expect(rulesOf({ operator: { code: 'A' }, number: '9876543210', amount: '10' })).toEqual([
      'operator:type',
    ]);
  });

  it('circle: optional, known, with a code', () => {
    expect(rulesOf({ ...VALID.mobile, circle: 'Atlantis', amount: '10' })).toEqual(['circle:circle_known']);
    expect(rulesOf({ ...VALID.mobile, circle: '99', amount: '10' })).toEqual(['circle:circle_known']);
    const [noCode] = issuesOf({ ...VALID.mobile, circle: 'goa', amount: '10' });
    expect(noCode).toMatchObject({ field: 'circle', rule: 'circle_has_code' });
    expect(noCode?.message).toContain('Goa has no circle code');
    expect(noCode?.message).toContain('cannot be sent');
    expect(rulesOf({ ...VALID.mobile, circle: true, amount: '10' })).toEqual(['circle:type']);
  });

  it('number: required and of a readable type', () => {
    expect(rulesOf({ operator: 'A', amount: '10' })).toEqual(['number:required']);
    expect(rulesOf({ operator: 'A', number: ' ', amount: '10' })).toEqual(['number:required']);
    expect(rulesOf({ operator: 'BSES', number: JSON.parse('12345678901234567890'), amount: '10' })).toEqual([
      'number:type',
    ]);
    expect(rulesOf({ operator: 'BSES', number: 1234.5, amount: '10' })).toEqual(['number:type']);
    expect(rulesOf({ operator: 'BSES', number: ['123456'], amount: '10' })).toEqual(['number:type']);
  });

  it.each([
    ['dth', 'ATV', '12345', 'dth_number'],
    ['dth', 'DTV', '123456789012345', 'dth_number'],
    ['dth', 'TTV', 'AB123456', 'dth_number'],
    ['landline', 'LAT', '12345', 'landline_number'],
    ['landline', 'LAT', '011-23456789', 'landline_number'],
    ['electricity', 'BSES', 'CA 1234567', 'consumer_number'],
    ['electricity', 'BSES', '123', 'consumer_number'],
    ['gas', 'IG', 'A'.repeat(31), 'consumer_number'],
    ['insurance', 'TAI', '/1234567', 'policy_number'],
    ['insurance', 'TAI', 'POL 123', 'policy_number'],
    ['fastag', 'AXF', 'MH 12 AB 1234', 'account_number'],
    ['money_transfer', 'IMPS', '12-34', 'account_number'],
    ['data_card', 'RNET', 'abc', 'account_number'],
    ['other', 'GLF', 'GPLAY#1', 'account_number'],
  ])('number for %s (%s): %j is refused with %s', (category, operator, number, rule) => {
    const input = { ...VALID[category as OperatorCategory], operator, number, amount: '10' };
    expect(rulesOf(input)).toEqual([`number:${rule}`]);
  });

  it('number rules accept the edges of their ranges', () => {
    expect(valid({ operator: 'DTV', number: '123456', amount: '10' }).number).toBe('123456');
    expect(valid({ operator: 'DTV', number: '12345678901234', amount: '10' }).number).toBe('12345678901234');
    expect(valid({ operator: 'DTV', number: '0123 4567', amount: '10' }).number).toBe('01234567');
    expect(valid({ ...VALID.landline, number: '234567', amount: '10' }).number).toBe('234567');
    expect(valid({ operator: 'NDMC', number: 'A'.repeat(30), amount: '10' }).number).toBe('A'.repeat(30));
    expect(valid({ operator: 'ICP', number: 'ab-12/34', value1: '01-01-1970', amount: '10' }).number).toBe(
      'ab-12/34',
    );
  });

  it('amount: required', () => {
    expect(rulesOf({ ...VALID.mobile })).toEqual(['amount:required']);
    expect(rulesOf({ ...VALID.mobile, amount: '' })).toEqual(['amount:required']);
    expect(rulesOf({ ...VALID.mobile, amount: null })).toEqual(['amount:required']);
  });

  it.each([['10.555'], ['1,000'], ['ten'], ['₹100'], ['1e3'], [Number.NaN], [true], [{}]])(
    'amount %j has the wrong format',
    (amount) => {
      expect(rulesOf({ ...VALID.mobile, amount })).toEqual(['amount:amount_format']);
    },
  );

  it.each([[0], ['0'], ['0.00'], ['-5'], [-5]])('amount %j must be more than 0', (amount) => {
    expect(rulesOf({ ...VALID.mobile, amount })).toEqual(['amount:amount_positive']);
  });

  it('amount below 1 rupee or above the category maximum is out of range, with the bounds in the message', () => {
    expect(rulesOf({ ...VALID.mobile, amount: '0.50' })).toEqual(['amount:amount_range']);
    const [tooMuch] = issuesOf({ ...VALID.mobile, amount: '10001' });
    expect(tooMuch).toEqual({
      field: 'amount',
      rule: 'amount_range',
      message: 'must be between 1 and 10,000 rupees for a prepaid mobile recharge',
    });
    const [bill] = issuesOf({ ...VALID.electricity, amount: '200000.01' });
    expect(bill?.message).toContain('and 2,00,000 rupees for an electricity bill');
  });

  it.each(OPERATOR_CATEGORIES.map((category) => [category] as const))(
    'amount bounds for %s: the maximum is accepted, one paisa more is refused',
    (category) => {
      const { min, max } = AMOUNT_BOUNDS[category];
      expect(valid({ ...VALID[category], amount: max / 100 }).amount).toBe(max);
      expect(valid({ ...VALID[category], amount: min / 100 }).amount).toBe(min);
      expect(rulesOf({ ...VALID[category], amount: (max + 1) / 100 })).toEqual(['amount:amount_range']);
    },
  );

  it('chooses different bounds per category', () => {
    expect(rulesOf({ ...VALID.mobile, amount: '20000' })).toEqual(['amount:amount_range']);
    expect(valid({ ...VALID.dth, amount: '20000' }).amount).toBe(2_000_000);
    expect(rulesOf({ ...VALID.dth, amount: '25000.01' })).toEqual(['amount:amount_range']);
    expect(valid({ ...VALID.electricity, amount: '150000' }).amount).toBe(15_000_000);
  });
});

describe('value1 and value2 per biller', () => {
  it('AIRTEL LANDLINE (LAT): value1 is the STD code; value2 is not used', () => {
    const base = { operator: 'LAT', number: '23456789', amount: '500' };
    expect(valid({ ...base, value1: '011' })).toMatchObject({ value1: '011' });
    expect(valid({ ...base, value1: '01234' }).value1).toBe('01234');
    const [missing] = issuesOf(base);
    expect(missing).toMatchObject({ field: 'value1', rule: 'required' });
    expect(missing?.message).toContain('STD code of the landline, e.g. 011');
    expect(rulesOf({ ...base, value1: '1' })).toEqual(['value1:std_code']);
    expect(rulesOf({ ...base, value1: '011234' })).toEqual(['value1:std_code']);
    expect(rulesOf({ ...base, value1: '0-11' })).toEqual(['value1:std_code']);
    expect(rulesOf({ ...base, value1: '011', value2: '123' })).toEqual(['value2:not_used']);
  });

  it('BSNL LANDLINE (LBS): value1 is the STD code, value2 the account number', () => {
    const base = { operator: 'LBS', number: '2345678', amount: '500' };
    expect(valid({ ...base, value1: '0471', value2: '9012345678' })).toMatchObject({
      value1: '0471',
      value2: '9012345678',
    });
    expect(rulesOf(base)).toEqual(['value1:required', 'value2:required']);
    expect(rulesOf({ ...base, value1: 'abc', value2: 'AB12' })).toEqual([
      'value1:std_code',
      'value2:bsnl_account_number',
    ]);
  });

  it('MTNL DELHI LANDLINE (LMT): value1 is the CA number; value2 is not used', () => {
    const base = { operator: 'LMT', number: '23456789', amount: '500' };
    expect(valid({ ...base, value1: '2000123456' }).value1).toBe('2000123456');
    expect(rulesOf(base)).toEqual(['value1:required']);
    expect(rulesOf({ ...base, value1: 'CA-1' })).toEqual(['value1:ca_number']);
    expect(rulesOf({ ...base, value1: '2000123456', value2: 'x' })).toEqual(['value2:not_used']);
  });

  it('Mahanagar Gas (MG): number is the customer account number, value1 the bill group number', () => {
    const base = { operator: 'MG', number: '210000123456', amount: '700' };
    expect(valid({ ...base, value1: 'BG12' }).value1).toBe('BG12');
    const [missing] = issuesOf(base);
    expect(missing).toMatchObject({ field: 'value1', rule: 'required' });
    expect(missing?.message).toContain('bill group number');
    expect(rulesOf({ ...base, value1: '12 34' })).toEqual(['value1:bill_group_number']);
    expect(rulesOf({ ...base, number: '21-0000', value1: '12' })).toEqual(['number:consumer_number']);
  });

  it('MSEDCL: value1 is the billing unit, value2 the processing cycle', () => {
    const base = { operator: 'MSEDCL', number: '170012345678', amount: '1200' };
    expect(valid({ ...base, value1: '4637', value2: '7' })).toMatchObject({ value1: '4637', value2: '7' });
    expect(valid({ ...base, value1: 4637, value2: 7 })).toMatchObject({ value1: '4637', value2: '7' });
    expect(rulesOf(base)).toEqual(['value1:required', 'value2:required']);
    expect(rulesOf({ ...base, value1: 'BU1', value2: '1234' })).toEqual([
      'value1:billing_unit',
      'value2:processing_cycle',
    ]);
  });

  it('Reliance Energy (RELIANCE): value1 is the cycle number; value2 is not used', () => {
    const base = { operator: 'RELIANCE', number: '100012345', amount: '900' };
    expect(valid({ ...base, value1: '12' }).value1).toBe('12');
    expect(rulesOf(base)).toEqual(['value1:required']);
    expect(rulesOf({ ...base, value1: '12a' })).toEqual(['value1:cycle_number']);
    expect(rulesOf({ ...base, value1: '12', value2: '1' })).toEqual(['value2:not_used']);
  });

  it.each([['ICP'], ['TAI']])('insurance (%s): value1 is the date of birth DD-MM-YYYY', (operator) => {
    const base = { operator, number: 'POL12345', amount: '5000' };
    expect(valid({ ...base, value1: '29-02-2000' }).value1).toBe('29-02-2000');
    expect(valid({ ...base, value1: '14-06-2025' }).value1).toBe('14-06-2025');
    const [missing] = issuesOf(base);
    expect(missing).toMatchObject({ field: 'value1', rule: 'required' });
    expect(missing?.message).toContain('DD-MM-YYYY');
    expect(rulesOf({ ...base, value1: '1990-08-15' })).toEqual(['value1:date_of_birth']);
    expect(rulesOf({ ...base, value1: '15/08/1990' })).toEqual(['value1:date_of_birth']);
    expect(rulesOf({ ...base, value1: '5-8-1990' })).toEqual(['value1:date_of_birth']);
    expect(rulesOf({ ...base, value1: '15-08-1990', value2: 'x' })).toEqual(['value2:not_used']);
  });

  it('refuses dates of birth that are not real calendar dates', () => {
    const base = { operator: 'ICP', number: 'POL12345', amount: '5000' };
    const [feb31] = issuesOf({ ...base, value1: '31-02-1990' });
    expect(feb31).toMatchObject({ field: 'value1', rule: 'date_of_birth' });
    expect(feb31?.message).toContain('31-02-1990 does not exist');
    expect(rulesOf({ ...base, value1: '29-02-1900' })).toEqual(['value1:date_of_birth']);
    expect(rulesOf({ ...base, value1: '31-04-1990' })).toEqual(['value1:date_of_birth']);
    expect(rulesOf({ ...base, value1: '00-01-1990' })).toEqual(['value1:date_of_birth']);
    expect(rulesOf({ ...base, value1: '10-13-1990' })).toEqual(['value1:date_of_birth']);
    expect(rulesOf({ ...base, value1: '01-01-1899' })).toEqual(['value1:date_of_birth']);
  });

  it('refuses a date of birth today or in the future', () => {
    const base = { operator: 'ICP', number: 'POL12345', amount: '5000' };
    const [today] = issuesOf({ ...base, value1: '15-06-2025' });
    expect(today).toMatchObject({ field: 'value1', rule: 'date_of_birth' });
    expect(today?.message).toContain('in the past');
    expect(rulesOf({ ...base, value1: '01-01-2030' })).toEqual(['value1:date_of_birth']);
  });

  it('refuses value1 and value2 for an operator that does not use them, but treats blanks as absent', () => {
    const issues = issuesOf({ ...VALID.mobile, amount: '10', value1: '011', value2: 5 });
    expect(issues.map((i) => `${i.field}:${i.rule}`)).toEqual(['value1:not_used', 'value2:not_used']);
    expect(issues[0]?.message).toContain('Airtel (A) does not use value1');
    expect(rulesOf({ ...VALID.electricity, amount: '10', value1: 'x' })).toEqual(['value1:not_used']);
    expect(valid({ ...VALID.mobile, amount: '10', value1: '', value2: null })).not.toHaveProperty('value1');
  });
});

describe('all issues at once', () => {
  it('bad operator, bad number and bad amount give three issues', () => {
    const issues = issuesOf({ operator: 'NOPE', number: 'abc', amount: 'ten' });
    expect(issues.map((i) => `${i.field}:${i.rule}`)).toEqual([
      'operator:operator_known',
      'number:number_format',
      'amount:amount_format',
    ]);
  });

  it('with a known operator, every wrong field is reported in field order', () => {
    expect(
      rulesOf({ operator: 'LBS', circle: 'Sikkim', number: '12', amount: '0', value1: 'x', value2: '' }),
    ).toEqual([
      'circle:circle_has_code',
      'number:landline_number',
      'amount:amount_positive',
      'value1:std_code',
      'value2:required',
    ]);
  });

  it('an empty request lists every required field', () => {
    expect(rulesOf({})).toEqual(['operator:required', 'number:required', 'amount:required']);
  });

  it('an unknown operator still checks circle and amount, and a number no operator could accept', () => {
    expect(rulesOf({ operator: 'NOPE', circle: 'Goa', number: '9876543210', amount: '300000' })).toEqual([
      'operator:operator_known',
      'circle:circle_has_code',
      'amount:amount_range',
    ]);
    const [amount] = issuesOf({ operator: 'NOPE', number: '9876543210', amount: '300000' }).slice(1);
    expect(amount?.message).toContain('for any operator');
    // value1 cannot be judged without the operator: no not_used guess.
    expect(rulesOf({ operator: 'NOPE', number: 'ABCD1234', amount: '10', value1: '011' })).toEqual([
      'operator:operator_known',
    ]);
  });
});

describe('formatRupeesForPeople', () => {
  it('groups digits the Indian way and keeps paise', () => {
    expect(formatRupeesForPeople(paise(20_000_000))).toBe('2,00,000');
    expect(formatRupeesForPeople(paise(199_950))).toBe('1,999.50');
    expect(formatRupeesForPeople(paise(105))).toBe('1.05');
    expect(formatRupeesForPeople(paise(100))).toBe('1');
  });
});
