import { describe, expect, it } from 'vitest';
import {
  cardDataIssues,
  findCardNumber,
  hasCardNetworkPrefix,
  isCardNumber,
  isRawCardFieldName,
  luhnValid,
  maskCardNumbers,
} from './card-numbers.ts';

/** Test numbers the networks publish (Luhn-valid, never issued). */
const CARDS = {
  visa: '4111111111111111',
  visa13: '4222222222222',
  visa19: '4111111111111111110',
  mastercard: '5555555555554444',
  mastercard2: '2223003122003222',
  amex: '378282246310005',
  discover: '6011111111111117',
  diners: '30569309025904',
  jcb: '3530111333300000',
  unionpay: '6200000000000005',
  maestro: '6759649826438453',
  rupay: '6521000000000007',
  mir: '2200000000000004',
} as const;

describe('luhnValid', () => {
  it('accepts numbers with a right check digit and refuses the others', () => {
    for (const card of Object.values(CARDS)) expect(luhnValid(card), card).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('79927398710')).toBe(false);
    expect(luhnValid('')).toBe(false);
    expect(luhnValid('4111a11111111111')).toBe(false);
  });
});

describe('isCardNumber', () => {
  it.each(Object.entries(CARDS))('recognises a %s number', (_network, card) => {
    expect(isCardNumber(card)).toBe(true);
  });

  it('needs 13-19 digits, a network prefix at that network length, and the check digit', () => {
    expect(isCardNumber('411111111111')).toBe(false); // 12 digits
    expect(isCardNumber('41111111111111111110')).toBe(false); // 20 digits
    expect(isCardNumber('4111111111111112')).toBe(false); // check digit
    // Luhn-valid but no card network issues these: a token, a timestamp, a 16-digit Amex.
    expect(luhnValid('9503946000062304')).toBe(true);
    expect(isCardNumber('9503946000062304')).toBe(false);
    expect(luhnValid('1700000000004')).toBe(true);
    expect(isCardNumber('1700000000004')).toBe(false);
    expect(hasCardNetworkPrefix('3782822463100050')).toBe(false);
  });
});

describe('findCardNumber', () => {
  it('finds a card written plainly, with spaces or dashes, and inside other text', () => {
    expect(findCardNumber('4111111111111111')).toBe(CARDS.visa);
    expect(findCardNumber('4111 1111 1111 1111')).toBe(CARDS.visa);
    expect(findCardNumber('4111-1111-1111-1111')).toBe(CARDS.visa);
    expect(findCardNumber('4111 - 1111 - 1111 - 1111')).toBe(CARDS.visa);
    expect(findCardNumber('3782 822463 10005')).toBe(CARDS.amex);
    expect(findCardNumber('pm_4111111111111111')).toBe(CARDS.visa);
    expect(findCardNumber('card:5555555555554444;exp=12/30')).toBe(CARDS.mastercard);
    expect(findCardNumber('Flat 4, 4111 1111 1111 1111 Main St')).toBe(CARDS.visa);
    expect(findCardNumber('order 12 4111 1111 1111 1111 exp 12 30')).toBe(CARDS.visa);
    expect(findCardNumber('4111\u00a01111\u00a01111\u00a01111')).toBe(CARDS.visa);
    expect(findCardNumber('4111\u20131111\u20131111\u20131111')).toBe(CARDS.visa);
  });

  it('leaves alone what is not a card: tokens, ids, phone numbers, long digit runs', () => {
    for (const text of [
      'pm_9503946000062304',
      'AGKN4441',
      '2065550123',
      '+1 (206) 555-0123',
      '98104-1234',
      '1700000000004',
      '4111111111111112',
      '411111111111111100000',
      'RF0123456789abcdef01234567',
      '2026-11-22T10:00:00.000Z',
      '',
    ])
      expect(findCardNumber(text), text).toBeNull();
  });
});

describe('maskCardNumbers', () => {
  it('replaces each card, however it is written, and keeps the text around it', () => {
    expect(maskCardNumbers('4111111111111111.csv')).toBe('[card number removed].csv');
    expect(maskCardNumbers('pay with 4111 1111 1111 1111 exp 12/30')).toBe(
      'pay with [card number removed] exp 12/30',
    );
    expect(maskCardNumbers(`a ${CARDS.amex} b 3782-8224-6310-005 c`, '#')).toBe('a # b # c');
  });

  it('leaves alone what is not a card', () => {
    for (const text of ['pm_9503946000062304', 'orders 2026-11-22.csv', '411111111111111100000', 'x'])
      expect(maskCardNumbers(text)).toBe(text);
  });
});

describe('cardDataIssues', () => {
  it('names every field holding card data, at any depth, without its value', () => {
    const issues = cardDataIssues('telgoo5', {
      paymentToken: CARDS.visa,
      billingAddress1: { cardNumber: '4111', line: `my card ${CARDS.amex}` },
      notes: ['ok', Number(CARDS.discover)],
      billingCity: 'Seattle',
      Card_Number: 'x',
    });
    expect(issues.map((i) => `${i.field}:${i.rule}`)).toEqual([
      'telgoo5.paymentToken:card_data_refused',
      'telgoo5.billingAddress1.cardNumber:card_data_refused',
      'telgoo5.billingAddress1.line:card_data_refused',
      'telgoo5.notes.1:card_data_refused',
      'telgoo5.Card_Number:card_data_refused',
    ]);
    for (const issue of issues) expect(JSON.stringify(issue)).not.toMatch(/4111111|378282|601111/);
    expect(cardDataIssues('orderId', 'order-1')).toEqual([]);
    expect(cardDataIssues('orderId', undefined)).toEqual([]);
  });

  it('knows card field names however they are spelt', () => {
    for (const name of [
      'cardNumber',
      'card_number',
      'CARD-NUMBER',
      'cvv',
      'CVC2',
      'expiryMonth',
      'nameOnCard',
    ])
      expect(isRawCardFieldName(name), name).toBe(true);
    for (const name of ['paymentToken', 'billingCity', 'number', 'planCode'])
      expect(isRawCardFieldName(name), name).toBe(false);
  });
});
