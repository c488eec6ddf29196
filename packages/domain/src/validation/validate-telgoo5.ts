import { parseRupees } from '../amount.ts';
import type { FieldIssue } from '../errors.ts';
import type { RechargeRequest } from '../order.ts';
import { cardDataIssues, isRawCardFieldName, refuseCardField } from './card-numbers.ts';
import { RECHARGE_FIELDS, type RechargeField, type RechargeRequestInput } from './request-fields.ts';
import {
  TELGOO5_FIELDS,
  TELGOO5_TOPUP_TYPES,
  type Telgoo5Field,
  type Telgoo5Order,
} from './telgoo5-fields.ts';

/** The operator code that sends an order to Telgoo5/VCare (US MVNO back office) instead of A1Topup. */
export const TELGOO5_OPERATOR = 'TELGOO5';

/** The request fields a Telgoo5 order reads (the order id is the API's). */
const TELGOO5_READS = ['orderId', 'operator', 'number', 'amount', 'telgoo5'] as const;
type NotUsed = Exclude<RechargeField, (typeof TELGOO5_READS)[number]>;
/** Every other request field is not used for a Telgoo5 order: given, it is refused (never dropped). */
const NOT_USED = RECHARGE_FIELDS.filter(
  (field): field is NotUsed => !(TELGOO5_READS as readonly string[]).includes(field),
);

const US_STATES = new Set(
  'AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP'.split(
    ' ',
  ),
);

/** Telgoo5 top-ups are in US dollars; this bounds one order. */
export const TELGOO5_AMOUNT_BOUNDS = { min: 100, max: 50_000 } as const;

/**
 * Reads one field as text: `undefined` when absent (missing, null or blank), `null` when it was
 * given but cannot be used — refused as card data (`refused`), or not text (a `type` issue is
 * reported here: a wrong-typed field is refused, never silently dropped). Whole numbers JSON carries
 * exactly are read as their digits.
 */
function reader(issues: FieldIssue[], refused: ReadonlySet<string>) {
  return (field: string, raw: unknown): string | undefined | null => {
    if (refused.has(field)) return null;
    if (raw === undefined || raw === null) return undefined;
    if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0) return String(raw);
    if (typeof raw !== 'string') {
      issues.push({
        field,
        rule: 'type',
        message:
          typeof raw === 'object'
            ? `must be text, not ${Array.isArray(raw) ? 'a list' : 'an object'}`
            : 'must be text',
      });
      return null;
    }
    const t = raw.trim();
    return t === '' ? undefined : t;
  };
}

/**
 * Card data in the order, by field name and by shape, at any depth: the issues, and the fields
 * they refuse (their other rules are not checked: one clear reason per field).
 */
function findCardData(input: RechargeRequestInput, telgoo5: unknown) {
  const issues: FieldIssue[] = [];
  const refused = new Set<string>();
  const scan = (field: string, value: unknown) => {
    const found = cardDataIssues(field, value);
    if (found.length > 0) {
      issues.push(...found);
      refused.add(field);
    }
  };
  for (const field of ['number', 'amount', ...NOT_USED] as const) scan(field, input[field]);
  if (typeof telgoo5 === 'object' && telgoo5 !== null && !Array.isArray(telgoo5)) {
    for (const [key, value] of Object.entries(telgoo5)) {
      if (isRawCardFieldName(key)) {
        issues.push(refuseCardField(`telgoo5.${key}`));
        refused.add(`telgoo5.${key}`);
      } else scan(`telgoo5.${key}`, value);
    }
  } else scan('telgoo5', telgoo5);
  return { issues, refused };
}

function amountIssue(raw: unknown, amount: number | null): FieldIssue | undefined {
  if (raw === undefined || raw === null || raw === '')
    return { field: 'amount', rule: 'required', message: 'is required: the top-up amount in US dollars' };
  if (amount === null)
    return {
      field: 'amount',
      rule: 'amount_format',
      message: 'must be an amount in dollars like 12 or 12.50',
    };
  if (amount < TELGOO5_AMOUNT_BOUNDS.min || amount > TELGOO5_AMOUNT_BOUNDS.max)
    return {
      field: 'amount',
      rule: 'amount_range',
      message: 'must be between 1 and 500 dollars for a Telgoo5 top-up',
    };
  return undefined;
}

/** A US MDN: 10 digits, area code and exchange starting 2-9; +1, spaces, dashes and brackets removed. */
export function normaliseMdn(raw: string): string | null {
  let digits = raw.replace(/[\s\-().]/g, '');
  if (digits.startsWith('+1')) digits = digits.slice(2);
  else if (digits.length === 11 && digits.startsWith('1')) digits = digits.slice(1);
  return /^[2-9]\d{2}[2-9]\d{6}$/.test(digits) ? digits : null;
}

/**
 * Validates an order for Telgoo5: `number` is the MDN, `amount` in dollars, and the `telgoo5`
 * object carries the enrollment, plan, top-up type and saved payment profile. Reports every issue.
 * Card data is refused in every field, by name and by shape (card-numbers.ts), and every field is
 * text: one of another type is refused (rule `type`), never silently dropped.
 */
export function validateTelgoo5Request(
  input: RechargeRequestInput,
): { ok: true; value: RechargeRequest } | { ok: false; issues: FieldIssue[] } {
  const cards = findCardData(input, input.telgoo5);
  const issues: FieldIssue[] = [...cards.issues];
  const read = reader(issues, cards.refused);
  const numberText = read('number', input.number);
  const mdn = typeof numberText === 'string' ? normaliseMdn(numberText) : null;
  if (numberText === undefined)
    issues.push({
      field: 'number',
      rule: 'required',
      message: 'is required: the MDN (US phone number) to top up',
    });
  else if (numberText !== null && mdn === null)
    issues.push({
      field: 'number',
      rule: 'mdn',
      message: 'must be a 10-digit US phone number (MDN), e.g. 2065550123',
    });

  // An amount refused as card data is reported above, and only there.
  const amount = cards.refused.has('amount') ? null : parseRupees(input.amount);
  const amountProblem = cards.refused.has('amount') ? undefined : amountIssue(input.amount, amount);
  if (amountProblem) issues.push(amountProblem);
  for (const field of NOT_USED) {
    const value = read(field, input[field]);
    if (typeof value === 'string')
      issues.push({ field, rule: 'not_used', message: 'is not used for Telgoo5 orders; leave it out' });
  }

  const raw = input.telgoo5;
  if (cards.refused.has('telgoo5')) return { ok: false, issues };
  if (raw === undefined || raw === null) {
    issues.push({
      field: 'telgoo5',
      rule: 'required',
      message:
        'is required for Telgoo5 orders: enrollmentId, planCode or planId, topupType, paymentToken or customerToken, billingState, billingCity',
    });
    return { ok: false, issues };
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    issues.push({ field: 'telgoo5', rule: 'type', message: 'must be an object' });
    return { ok: false, issues };
  }
  const t = raw as Record<string, unknown>;
  for (const key of Object.keys(t)) {
    if (isRawCardFieldName(key)) continue; // refused above
    if (!(TELGOO5_FIELDS as readonly string[]).includes(key)) {
      issues.push({
        field: `telgoo5.${key}`,
        rule: 'unknown_field',
        message: `is not a Telgoo5 field (allowed: ${TELGOO5_FIELDS.join(', ')})`,
      });
    }
  }
  const field = (name: Telgoo5Field) => read(`telgoo5.${name}`, t[name]);
  const id = /^[A-Za-z0-9_-]{1,32}$/;
  const token = /^[A-Za-z0-9_-]{4,64}$/;
  const enrollmentId = field('enrollmentId');
  if (enrollmentId === undefined)
    issues.push({
      field: 'telgoo5.enrollmentId',
      rule: 'required',
      message: "is required: the customer's enrollment id in Telgoo5, e.g. AGKN4441",
    });
  else if (enrollmentId !== null && !id.test(enrollmentId))
    issues.push({ field: 'telgoo5.enrollmentId', rule: 'format', message: 'must be 1-32 letters or digits' });
  const planCode = field('planCode');
  const planId = field('planId');
  if (planCode === undefined && planId === undefined)
    issues.push({
      field: 'telgoo5.planCode',
      rule: 'required',
      message: 'planCode or planId is required: the top-up plan from Telgoo5',
    });
  for (const [name, value] of [
    ['planCode', planCode],
    ['planId', planId],
  ] as const) {
    if (typeof value === 'string' && !id.test(value))
      issues.push({ field: `telgoo5.${name}`, rule: 'format', message: 'must be 1-32 letters or digits' });
  }
  const topupTypeText = field('topupType');
  const topupType = typeof topupTypeText === 'string' ? topupTypeText.toUpperCase() : topupTypeText;
  if (topupType === undefined)
    issues.push({
      field: 'telgoo5.topupType',
      rule: 'required',
      message: `is required: one of ${TELGOO5_TOPUP_TYPES.join(', ')}`,
    });
  else if (topupType !== null && !(TELGOO5_TOPUP_TYPES as readonly string[]).includes(topupType)) {
    issues.push({
      field: 'telgoo5.topupType',
      rule: 'enum',
      message: `must be one of ${TELGOO5_TOPUP_TYPES.join(', ')}`,
    });
  }
  const paymentToken = field('paymentToken');
  const customerToken = field('customerToken');
  if (paymentToken === undefined && customerToken === undefined) {
    issues.push({
      field: 'telgoo5.paymentToken',
      rule: 'required',
      message: 'paymentToken or customerToken is required: the saved payment profile to charge',
    });
  }
  for (const [name, value] of [
    ['paymentToken', paymentToken],
    ['customerToken', customerToken],
  ] as const) {
    if (typeof value === 'string' && !token.test(value))
      issues.push({
        field: `telgoo5.${name}`,
        rule: 'format',
        message: 'must be 4-64 letters, digits, _ or -',
      });
  }
  const billingStateText = field('billingState');
  const billingState =
    typeof billingStateText === 'string' ? billingStateText.toUpperCase() : billingStateText;
  if (billingState === undefined)
    issues.push({
      field: 'telgoo5.billingState',
      rule: 'required',
      message: 'is required: the two-letter billing state, e.g. WA',
    });
  else if (billingState !== null && !US_STATES.has(billingState))
    issues.push({
      field: 'telgoo5.billingState',
      rule: 'us_state',
      message: 'must be a two-letter US state code, e.g. WA',
    });
  const billingCity = field('billingCity');
  if (billingCity === undefined)
    issues.push({ field: 'telgoo5.billingCity', rule: 'required', message: 'is required: the billing city' });
  else if (billingCity !== null && billingCity.length > 64)
    issues.push({ field: 'telgoo5.billingCity', rule: 'length', message: 'must be at most 64 characters' });
  const billingZip = field('billingZip');
  if (typeof billingZip === 'string' && !/^\d{5}(-\d{4})?$/.test(billingZip)) {
    issues.push({
      field: 'telgoo5.billingZip',
      rule: 'zip',
      message: 'must be a US ZIP code like 98104 or 98104-1234',
    });
  }
  const billingAddress1 = field('billingAddress1');
  const billingAddress2 = field('billingAddress2');
  for (const [name, value] of [
    ['billingAddress1', billingAddress1],
    ['billingAddress2', billingAddress2],
  ] as const) {
    if (typeof value === 'string' && value.length > 100)
      issues.push({ field: `telgoo5.${name}`, rule: 'length', message: 'must be at most 100 characters' });
  }

  if (issues.length > 0 || mdn === null || amount === null) return { ok: false, issues };
  const telgoo5: Telgoo5Order = {
    enrollmentId: enrollmentId!,
    topupType: topupType as Telgoo5Order['topupType'],
    billingState: billingState!,
    billingCity: billingCity!,
    ...(planCode ? { planCode } : {}),
    ...(planId ? { planId } : {}),
    ...(paymentToken ? { paymentToken } : {}),
    ...(customerToken ? { customerToken } : {}),
    ...(billingZip ? { billingZip } : {}),
    ...(billingAddress1 ? { billingAddress1 } : {}),
    ...(billingAddress2 ? { billingAddress2 } : {}),
  };
  return { ok: true, value: { operator: TELGOO5_OPERATOR, number: mdn, amount, telgoo5 } };
}
