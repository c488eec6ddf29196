import { type Paise, parseRupees } from '../amount.ts';
import { type Circle, lookupCircle } from '../catalogue/circles.ts';
import { findOperator, OPERATOR_CATEGORIES, type Operator } from '../catalogue/operators.ts';
import type { FieldIssue } from '../errors.ts';
import type { RechargeRequest } from '../order.ts';
import { AMOUNT_BOUNDS, ANY_OPERATOR_AMOUNT_BOUNDS, formatRupeesForPeople } from './amount-bounds.ts';
import { cardDataIssues } from './card-numbers.ts';
import { CATEGORY_LABELS } from './category-labels.ts';
import { type ExtraFieldRule, extraFieldRules } from './extra-fields.ts';
import { checkNumber, NUMBER_IS_ACCOUNT } from './number-rules.ts';
import type { RechargeRequestInput } from './request-fields.ts';
import { TELGOO5_OPERATOR, validateTelgoo5Request } from './validate-telgoo5.ts';

export type { RechargeRequestInput };

export type RechargeValidationResult =
  | { readonly ok: true; readonly value: RechargeRequest }
  | { readonly ok: false; readonly issues: FieldIssue[] };

export interface ValidateOptions {
  /** The clock for "date of birth in the past"; defaults to now. */
  readonly now?: Date;
}

/** A field that was given but cannot be read as text (an object, a boolean, a lossy number). */
const UNREADABLE = Symbol('unreadable');
/** A field already refused as card data: none of its other rules is checked. */
const REFUSED = Symbol('refused');

/**
 * Text of a raw field, trimmed; `undefined` when absent (missing, null or blank). Numbers are
 * accepted as JSON sends them, but only whole ones that JSON carried exactly: a long account
 * number sent as a JSON number has already lost digits, and paying the wrong account is worse
 * than asking for text.
 */
function readText(field: string, raw: unknown, issues: FieldIssue[]): string | undefined | typeof UNREADABLE {
  if (raw === REFUSED) return UNREADABLE;
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'string') {
    const text = raw.trim();
    return text === '' ? undefined : text;
  }
  if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0) return String(raw);
  issues.push({
    field,
    rule: 'type',
    message:
      typeof raw === 'number'
        ? 'must be written as text: as a number it is negative, has decimals, or is too long to keep every digit'
        : 'must be text or a number',
  });
  return UNREADABLE;
}

function required(field: string, what: string): FieldIssue {
  return { field, rule: 'required', message: `is required: ${what}` };
}

function validateOperator(raw: unknown, issues: FieldIssue[]): Operator | undefined {
  const text = readText('operator', raw, issues);
  if (text === UNREADABLE) return undefined;
  if (text === undefined) {
    issues.push(required('operator', 'the operator code from the A1Topup list, e.g. A for Airtel'));
    return undefined;
  }
  const operator = findOperator(text);
  if (operator === undefined) {
    issues.push({
      field: 'operator',
      rule: 'operator_known',
      message:
        'is not a known operator code; use a code from the operator list, e.g. A for Airtel or ATV for Airtel DTH',
    });
  }
  return operator;
}

/** Circle is optional; when given it must be in the table and have a code (one without cannot be sent). */
function validateCircle(raw: unknown, issues: FieldIssue[]): string | undefined {
  const text = readText('circle', raw, issues);
  if (text === undefined || text === UNREADABLE) return undefined;
  const circle: Circle | undefined = lookupCircle(text);
  if (circle === undefined) {
    issues.push({
      field: 'circle',
      rule: 'circle_known',
      message:
        'is not a circle code or state name from the A1Topup circle list, e.g. 5 for Delhi; or leave it empty',
    });
    return undefined;
  }
  if (circle.code === null) {
    issues.push({
      field: 'circle',
      rule: 'circle_has_code',
      message: `${circle.name} has no circle code in the A1Topup list, so a recharge cannot be sent for it; leave circle empty or choose a listed circle`,
    });
    return undefined;
  }
  return circle.code;
}

function validateNumber(
  raw: unknown,
  operator: Operator | undefined,
  issues: FieldIssue[],
): string | undefined {
  const text = readText('number', raw, issues);
  if (text === UNREADABLE) return undefined;
  if (text === undefined) {
    issues.push(
      required(
        'number',
        'the mobile number, DTH ID or account number to recharge, depending on the operator',
      ),
    );
    return undefined;
  }
  // Without a known operator no rule can be chosen, but a number that no category would accept
  // is wrong whatever the operator turns out to be: say so now rather than on the next attempt.
  if (operator === undefined) {
    if (!OPERATOR_CATEGORIES.some((category) => checkNumber(category, text).ok)) {
      issues.push({
        field: 'number',
        rule: 'number_format',
        message:
          'is not a mobile number, DTH ID, or account, consumer or policy number that any operator accepts',
      });
    }
    return undefined;
  }
  const check = checkNumber(operator.category, text);
  if (!check.ok) {
    issues.push(check.issue);
    return undefined;
  }
  return check.value;
}

/**
 * Amount: required, rupees with at most two decimals (parseRupees), more than 0, and within the
 * operator category's AMOUNT_BOUNDS (the widest bounds when the operator is unknown).
 */
function validateAmount(
  raw: unknown,
  operator: Operator | undefined,
  issues: FieldIssue[],
): Paise | undefined {
  if (raw === REFUSED) return undefined;
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) {
    issues.push(required('amount', 'the amount in rupees, e.g. 199 or 199.50'));
    return undefined;
  }
  const amount = parseRupees(raw);
  if (amount === null) {
    const negative =
      (typeof raw === 'number' && raw < 0) || (typeof raw === 'string' && /^\s*-\s*\d/.test(raw));
    issues.push(
      negative
        ? { field: 'amount', rule: 'amount_positive', message: 'must be more than 0 rupees' }
        : {
            field: 'amount',
            rule: 'amount_format',
            message:
              'must be an amount in rupees like 199 or 199.50: digits, at most two decimals, no commas or symbols',
          },
    );
    return undefined;
  }
  if (amount <= 0) {
    issues.push({ field: 'amount', rule: 'amount_positive', message: 'must be more than 0 rupees' });
    return undefined;
  }
  const bounds = operator === undefined ? ANY_OPERATOR_AMOUNT_BOUNDS : AMOUNT_BOUNDS[operator.category];
  if (amount < bounds.min || amount > bounds.max) {
    const forWhat = operator === undefined ? 'any operator' : CATEGORY_LABELS[operator.category];
    issues.push({
      field: 'amount',
      rule: 'amount_range',
      message: `must be between ${formatRupeesForPeople(bounds.min)} and ${formatRupeesForPeople(bounds.max)} rupees for ${forWhat}`,
    });
    return undefined;
  }
  return amount;
}

/**
 * value1/value2: required where the document lists them for the operator (extra-fields.ts), and
 * refused when the operator does not use them (rule `not_used`): a stray field sent to a biller
 * could pay against the wrong account. With an unknown operator only the type is checked.
 */
function validateExtra(
  field: 'value1' | 'value2',
  raw: unknown,
  operator: Operator | undefined,
  now: Date,
  issues: FieldIssue[],
): string | undefined {
  const text = readText(field, raw, issues);
  if (text === UNREADABLE || operator === undefined) return undefined;
  const rule: ExtraFieldRule | undefined = extraFieldRules(operator)[field];
  if (rule === undefined) {
    if (text !== undefined) {
      issues.push({
        field,
        rule: 'not_used',
        message: `must be empty: ${operator.name} (${operator.code}) does not use ${field}, and we never send a biller fields it did not ask for`,
      });
    }
    return undefined;
  }
  if (text === undefined) {
    issues.push(required(field, `${rule.what}, for ${operator.name}`));
    return undefined;
  }
  const problem = rule.problem(text, now);
  if (problem !== null) {
    issues.push({ field, rule: rule.rule, message: problem });
    return undefined;
  }
  return text;
}

/**
 * Validates and normalises one recharge request. Every field is checked and every issue is
 * reported (never just the first), in field order: operator, circle, number, amount, value1, value2.
 * On success: operator is its canonical code, circle its code, a mobile number its 10 digits.
 */
export function validateRechargeRequest(
  input: RechargeRequestInput,
  options: ValidateOptions = {},
): RechargeValidationResult {
  if (typeof input.operator === 'string' && input.operator.trim().toUpperCase() === TELGOO5_OPERATOR) {
    return validateTelgoo5Request(input);
  }
  const now = options.now ?? new Date();
  const issues: FieldIssue[] = [];
  // Card data by shape first, in every field except the account numbers a biller is paid against
  // (an account number may be shaped like a card): a refused field is reported once, as card data.
  const scan = (field: string, value: unknown) => {
    const found = cardDataIssues(field, value);
    if (found.length === 0) return value;
    issues.push(...found);
    return REFUSED;
  };
  const operatorInput = scan('operator', input.operator);
  const circleInput = scan('circle', input.circle);
  const amountInput = scan('amount', input.amount);
  if (input.telgoo5 !== undefined && input.telgoo5 !== null && scan('telgoo5', input.telgoo5) !== REFUSED) {
    issues.push({ field: 'telgoo5', rule: 'not_used', message: 'is only for orders with operator TELGOO5' });
  }
  const operator = validateOperator(operatorInput, issues);
  const holdsAccount = (field: 'number' | 'value1' | 'value2') =>
    operator !== undefined &&
    (field === 'number'
      ? NUMBER_IS_ACCOUNT.has(operator.category)
      : extraFieldRules(operator)[field]?.accountNumber === true);
  const given = (field: 'number' | 'value1' | 'value2') =>
    holdsAccount(field) ? input[field] : scan(field, input[field]);
  const circle = validateCircle(circleInput, issues);
  const number = validateNumber(given('number'), operator, issues);
  const amount = validateAmount(amountInput, operator, issues);
  const value1 = validateExtra('value1', given('value1'), operator, now, issues);
  const value2 = validateExtra('value2', given('value2'), operator, now, issues);

  if (issues.length > 0 || operator === undefined || number === undefined || amount === undefined) {
    return { ok: false, issues };
  }
  const value: RechargeRequest = {
    operator: operator.code,
    number,
    amount,
    ...(circle === undefined ? {} : { circle }),
    ...(value1 === undefined ? {} : { value1 }),
    ...(value2 === undefined ? {} : { value2 }),
  };
  return { ok: true, value };
}
