import type { FieldIssue } from '../errors.ts';

/**
 * Card numbers found by their shape, wherever they are written: a run of 13 to 19 digits (spaces
 * or dashes between digits allowed, as people type them) that passes the Luhn check **and** starts
 * with the prefix of a payment-card network at a length that network issues.
 *
 * Why the prefix too: Luhn alone passes one digit string in ten, and values that are not cards are
 * often long digit runs: saved-payment-profile tokens (`pm_9503946000062304` is Luhn-valid), order
 * ids made of millisecond timestamps, account numbers. The prefix table keeps those out while every
 * card of the networks a shop can take (Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay,
 * Maestro, RuPay, Mir) is caught.
 */

/** `[first prefix, last prefix, shortest, longest]`: prefixes of the same length, inclusive. */
const NETWORKS: readonly (readonly [string, string, number, number])[] = [
  ['4', '4', 13, 19], // Visa (and Electron, co-badged RuPay)
  ['51', '55', 16, 16], // Mastercard
  ['2221', '2720', 16, 16], // Mastercard 2-series
  ['34', '34', 15, 15], // American Express
  ['37', '37', 15, 15],
  ['300', '305', 14, 19], // Diners Club
  ['3095', '3095', 14, 19],
  ['36', '36', 14, 19],
  ['38', '39', 14, 19],
  ['3528', '3589', 16, 19], // JCB (and RuPay-JCB 353, 356)
  ['6', '6', 16, 19], // Discover, UnionPay, RuPay 60/65, Maestro 6xxx
  ['63', '63', 13, 19], // Maestro
  ['67', '67', 13, 19],
  ['5018', '5018', 13, 19],
  ['5020', '5020', 13, 19],
  ['5038', '5038', 13, 19],
  ['5893', '5893', 13, 19],
  ['508', '508', 16, 16], // RuPay
  ['81', '82', 16, 16],
  ['2200', '2204', 16, 19], // Mir
];

/** True when the digits pass the Luhn (mod 10) check. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** True when these digits have a card network's prefix at a length that network issues. */
export function hasCardNetworkPrefix(digits: string): boolean {
  for (const [first, last, min, max] of NETWORKS) {
    if (digits.length < min || digits.length > max) continue;
    const prefix = digits.slice(0, first.length);
    if (prefix >= first && prefix <= last) return true;
  }
  return false;
}

/** True for 13-19 digits that are Luhn-valid and start like a card of a payment network. */
export function isCardNumber(digits: string): boolean {
  return digits.length >= 13 && digits.length <= 19 && hasCardNetworkPrefix(digits) && luhnValid(digits);
}

/**
 * Digits, each followed by at most three separators (spaces, tabs, no-break spaces, dashes of any
 * kind) before the next digit: the ways a card number is written by hand (`4111 1111 1111 1111`,
 * `4111-1111-1111-1111`).
 */
const DIGIT_RUN = /\d(?:[\s\u00a0\u2010-\u2015-]{0,3}\d)*/g;
const SEPARATORS = /[\s\u00a0\u2010-\u2015-]+/;

/**
 * The first card number in `text` (its digits only), or `null`. A run of digit groups is searched
 * group-aligned: any consecutive groups holding 13-19 digits in all, so a card next to other digits
 * (`order 12 4111 1111 1111 1111 exp 12 30`) is still found, and letters or punctuation around it
 * (`pm_4111111111111111`) do not hide it. A single group of more than 19 digits is not a card.
 */
export function findCardNumber(text: string): string | null {
  if (text.length < 13) return null;
  for (const match of text.matchAll(DIGIT_RUN)) {
    const run = match[0];
    if (run.length < 13) continue;
    const groups = run.split(SEPARATORS);
    for (let i = 0; i < groups.length; i++) {
      let digits = '';
      for (let j = i; j < groups.length; j++) {
        digits += groups[j];
        if (digits.length > 19) break;
        if (digits.length >= 13 && isCardNumber(digits)) return digits;
      }
    }
  }
  return null;
}

/** What a card number is replaced with where text is kept or shown (`maskCardNumbers`). */
export const CARD_NUMBER_REMOVED = '[card number removed]';

/**
 * `text` with every run of digits holding a card number (as `findCardNumber` finds it) replaced
 * by `replacement`: for text a client wrote that is kept or logged as it came (a file name, a CSV
 * header cell, a URL) rather than refused.
 */
export function maskCardNumbers(text: string, replacement = CARD_NUMBER_REMOVED): string {
  if (text.length < 13) return text;
  return text.replace(/\d(?:[\s\u00a0\u2010-\u2015-]{0,3}\d)*/g, (run) =>
    run.length >= 13 && findCardNumber(run) !== null ? replacement : run,
  );
}

/**
 * Raw card fields, in the spellings a client might use. They are refused wherever they appear:
 * card data never enters Rechargeflow; Telgoo5 orders pay with a saved payment profile token.
 * Matched without regard to case, `_` or `-` (isRawCardFieldName).
 */
export const RAW_CARD_FIELDS: readonly string[] = [
  'cardNumber',
  'card_number',
  'cvv',
  'cvc',
  'expirationMonth',
  'expiration_month',
  'expirationYear',
  'expiration_year',
  'expiry',
  'nameOnCard',
  'name_on_card',
];

/** More spellings of the same fields, compared folded (lower case, no `_`, `-` or spaces). */
const CARD_FIELD_NAMES = new Set([
  ...RAW_CARD_FIELDS.map(fold),
  'cardno',
  'cardnum',
  'ccnumber',
  'ccnum',
  'creditcard',
  'creditcardnumber',
  'debitcardnumber',
  'cvv2',
  'cvc2',
  'securitycode',
  'cardsecuritycode',
  'expirymonth',
  'expiryyear',
  'expirydate',
  'expirationdate',
  'expdate',
  'expmonth',
  'expyear',
  'cardholdername',
  'cardholder',
]);

function fold(name: string): string {
  return name.toLowerCase().replace(/[\s_-]/g, '');
}

/** True for a key that names raw card data (`cardNumber`, `CVV`, `card-number`, `pan` …). */
export function isRawCardFieldName(name: string): boolean {
  return CARD_FIELD_NAMES.has(fold(name));
}

/** The issue for a raw card field: refused by its name. */
export function refuseCardField(field: string): FieldIssue {
  return {
    field,
    rule: 'card_data_refused',
    message:
      'raw card data is never accepted; pay with a saved payment profile (telgoo5.paymentToken or telgoo5.customerToken)',
  };
}

/** The issue for a field whose value looks like a card number: the value itself is never repeated. */
export function cardNumberIssue(field: string): FieldIssue {
  return {
    field,
    rule: 'card_data_refused',
    message:
      'looks like a card number (13-19 digits passing the card check digit), and card data is never accepted; pay with a saved payment profile (telgoo5.paymentToken or telgoo5.customerToken)',
  };
}

/** A card number written as a JSON number: only whole numbers JSON carried exactly can be read. */
function textOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value === 'bigint') return value.toString();
  return undefined;
}

/** Nesting followed at most: deeper values are refused as a whole by the field's own type rule. */
const MAX_DEPTH = 8;

/**
 * Every card number in a value, at any depth: one `card_data_refused` issue per field (named by
 * its path, `telgoo5.billingAddress1.line`, `items.0`) whose text looks like a card number, and one
 * per key that is a raw card field name (`cardNumber`, `cvv`, …, see RAW_CARD_FIELDS). Values are
 * never echoed.
 */
export function cardDataIssues(field: string, value: unknown): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const walk = (path: string, v: unknown, depth: number): void => {
    const text = textOf(v);
    if (text !== undefined) {
      if (findCardNumber(text) !== null) issues.push(cardNumberIssue(path));
      return;
    }
    if (typeof v !== 'object' || v === null || depth >= MAX_DEPTH) return;
    for (const [key, inner] of Object.entries(v as Record<string, unknown>)) {
      const innerPath = `${path}.${key}`;
      if (isRawCardFieldName(key)) issues.push(refuseCardField(innerPath));
      else walk(innerPath, inner, depth + 1);
    }
  };
  walk(field, value, 0);
  return issues;
}
