import { describe, expect, it } from 'vitest';
import type { FieldIssue } from '../errors.ts';
import { type RechargeRequestInput, validateRechargeRequest } from './validate-recharge.ts';

const NOW = new Date('2025-06-15T10:00:00Z');
const CARD = '4111111111111111';

const telgoo5 = {
  enrollmentId: 'AGKN4441',
  planCode: '12',
  topupType: 'ADDON',
  paymentToken: 'pm_9503946000062304',
  billingState: 'WA',
  billingCity: 'Seattle',
  billingZip: '98104',
  billingAddress1: '1 Main St',
};
const order = (t: Record<string, unknown> = {}, top: Record<string, unknown> = {}): RechargeRequestInput => ({
  operator: 'TELGOO5',
  number: '2065550123',
  amount: 12,
  telgoo5: { ...telgoo5, ...t },
  ...top,
});

function issuesOf(input: RechargeRequestInput): FieldIssue[] {
  const result = validateRechargeRequest(input, { now: NOW });
  if (result.ok) throw new Error(`expected issues, got ${JSON.stringify(result.value)}`);
  // No issue ever repeats the value it refuses.
  for (const issue of result.issues) expect(JSON.stringify(issue)).not.toContain('41111111');
  return result.issues;
}
const rulesOf = (input: RechargeRequestInput) => issuesOf(input).map((i) => `${i.field}:${i.rule}`);

describe('Telgoo5 orders: card numbers by shape', () => {
  it('accepts the documented order, whose payment token is a Luhn-valid digit run of no card network', () => {
    const result = validateRechargeRequest(order(), { now: NOW });
    expect(result.ok).toBe(true);
    expect(result.ok && result.value.telgoo5?.paymentToken).toBe('pm_9503946000062304');
  });

  it.each([
    'enrollmentId',
    'planCode',
    'planId',
    'topupType',
    'paymentToken',
    'customerToken',
    'billingState',
    'billingCity',
    'billingZip',
    'billingAddress1',
    'billingAddress2',
  ])('refuses a card number in telgoo5.%s, by shape, with card_data_refused', (field) => {
    for (const written of [CARD, '4111 1111 1111 1111', '4111-1111-1111-1111', `pm_${CARD}`]) {
      expect(rulesOf(order({ [field]: written }))).toEqual([`telgoo5.${field}:card_data_refused`]);
    }
    // As a JSON number too (exact below 2^53).
    expect(rulesOf(order({ [field]: Number(CARD) }))).toEqual([`telgoo5.${field}:card_data_refused`]);
  });

  it('refuses a card number in the top-level fields and in an unknown telgoo5 field', () => {
    expect(rulesOf(order({}, { number: CARD }))).toEqual(['number:card_data_refused']);
    expect(rulesOf(order({}, { amount: CARD }))).toEqual(['amount:card_data_refused']);
    expect(rulesOf(order({}, { value1: `card ${CARD}` }))).toEqual(['value1:card_data_refused']);
    expect(rulesOf(order({ note: CARD }))).toEqual([
      'telgoo5.note:card_data_refused',
      'telgoo5.note:unknown_field',
    ]);
  });

  it('refuses raw card field names however they are spelt', () => {
    expect(rulesOf(order({ CardNumber: '4' }))).toEqual(['telgoo5.CardNumber:card_data_refused']);
    expect(rulesOf(order({ cvv2: '737' }))).toEqual(['telgoo5.cvv2:card_data_refused']);
  });
});

describe('Telgoo5 orders: wrong-typed fields are refused, never dropped', () => {
  it('refuses an optional field sent as an object, and names the card inside it', () => {
    expect(rulesOf(order({ billingAddress1: { cardNumber: CARD } }))).toEqual([
      'telgoo5.billingAddress1.cardNumber:card_data_refused',
    ]);
    expect(rulesOf(order({ billingAddress1: { line1: '1 Main St' } }))).toEqual([
      'telgoo5.billingAddress1:type',
    ]);
    expect(rulesOf(order({ billingZip: ['98104'] }))).toEqual(['telgoo5.billingZip:type']);
    expect(rulesOf(order({ billingAddress2: true }))).toEqual(['telgoo5.billingAddress2:type']);
    expect(rulesOf(order({ customerToken: 1.5 }))).toEqual(['telgoo5.customerToken:type']);
  });

  it('says a required field has the wrong type, not that it is missing', () => {
    expect(rulesOf(order({ enrollmentId: { id: 'AGKN4441' } }))).toEqual(['telgoo5.enrollmentId:type']);
    expect(rulesOf(order({ billingCity: ['Seattle'] }))).toEqual(['telgoo5.billingCity:type']);
    expect(rulesOf(order({}, { number: { mdn: '2065550123' } }))).toEqual(['number:type']);
    expect(rulesOf(order({}, { circle: { code: 5 } }))).toEqual(['circle:type']);
  });

  it('still reads whole numbers as their digits, and leaves absent optionals out', () => {
    const result = validateRechargeRequest(order({ planCode: 12, billingZip: null, billingAddress1: '' }), {
      now: NOW,
    });
    expect(result.ok && result.value.telgoo5).toStrictEqual({
      enrollmentId: 'AGKN4441',
      planCode: '12',
      topupType: 'ADDON',
      paymentToken: 'pm_9503946000062304',
      billingState: 'WA',
      billingCity: 'Seattle',
    });
  });
});

describe('A1Topup orders: card numbers by shape', () => {
  const a1 = { operator: 'A', circle: '5', number: '9876543210', amount: '10' };

  it('refuses a card number in every field that never holds one, with one issue per field', () => {
    expect(rulesOf({ ...a1, number: '4111 1111 1111 1111' })).toEqual(['number:card_data_refused']);
    expect(rulesOf({ ...a1, circle: CARD })).toEqual(['circle:card_data_refused']);
    expect(rulesOf({ ...a1, amount: CARD })).toEqual(['amount:card_data_refused']);
    expect(rulesOf({ ...a1, operator: CARD })).toEqual(['operator:card_data_refused']);
    expect(rulesOf({ ...a1, value1: CARD })).toEqual(['value1:card_data_refused']);
    expect(rulesOf({ operator: 'ATV', number: '4222222222222', amount: '10' })).toEqual([
      'number:card_data_refused',
    ]);
    expect(rulesOf({ operator: 'LAT', number: '23456789', value1: CARD, amount: '10' })).toEqual([
      'value1:card_data_refused',
    ]);
    expect(rulesOf({ ...a1, telgoo5: { cardNumber: 'x' } })).toEqual([
      'telgoo5.cardNumber:card_data_refused',
    ]);
  });

  it('takes an account number that merely looks like a card where the biller is paid against one', () => {
    // A bank account for a money transfer, a consumer number, a BSNL account: numbers of up to
    // 20-30 digits, one in ten of which passes Luhn. Refusing them would refuse real bills.
    for (const input of [
      { operator: 'IMPS', number: CARD, amount: '100' },
      { operator: 'BSES', number: CARD, amount: '100' },
      { operator: 'LBS', number: '23456789', value1: '011', value2: CARD, amount: '100' },
    ]) {
      const result = validateRechargeRequest(input, { now: NOW });
      expect(result.ok, JSON.stringify(input)).toBe(true);
    }
  });
});
