import { parseRupees } from '../amount.ts';
import type { FieldIssue } from '../errors.ts';
import type { RechargeRequest, Telgoo5Order } from '../order.ts';

/** The operator code that sends an order to Telgoo5/VCare (US MVNO back office) instead of A1Topup. */
export const TELGOO5_OPERATOR = 'TELGOO5';

export const TELGOO5_TOPUP_TYPES = ['ADDON', 'ILD', 'DATA', 'TOPUP'] as const;

/**
 * Raw card fields, in the spellings a client might use. They are refused wherever they appear:
 * card data never enters Rechargeflow; Telgoo5 orders pay with a saved payment profile token.
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

const TELGOO5_FIELDS = [
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
] as const;

const US_STATES = new Set(
  'AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP'.split(
    ' ',
  ),
);

/** Telgoo5 top-ups are in US dollars; this bounds one order. */
export const TELGOO5_AMOUNT_BOUNDS = { min: 100, max: 50_000 } as const;

export function refuseCardField(field: string): FieldIssue {
  return {
    field,
    rule: 'card_data_refused',
    message:
      'raw card data is never accepted; pay with a saved payment profile (telgoo5.paymentToken or telgoo5.customerToken)',
  };
}

function text(raw: unknown): string | undefined {
  if (typeof raw === 'number' && Number.isSafeInteger(raw)) return String(raw);
  if (typeof raw !== 'string') return undefined;
  const t = raw.trim();
  return t === '' ? undefined : t;
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
 */
export function validateTelgoo5Request(input: {
  number?: unknown;
  amount?: unknown;
  circle?: unknown;
  value1?: unknown;
  value2?: unknown;
  telgoo5?: unknown;
}): { ok: true; value: RechargeRequest } | { ok: false; issues: FieldIssue[] } {
  const issues: FieldIssue[] = [];
  const numberText = text(input.number);
  const mdn = numberText === undefined ? null : normaliseMdn(numberText);
  if (numberText === undefined)
    issues.push({
      field: 'number',
      rule: 'required',
      message: 'is required: the MDN (US phone number) to top up',
    });
  else if (mdn === null)
    issues.push({
      field: 'number',
      rule: 'mdn',
      message: 'must be a 10-digit US phone number (MDN), e.g. 2065550123',
    });

  const amount = parseRupees(input.amount);
  if (input.amount === undefined || input.amount === null || input.amount === '') {
    issues.push({
      field: 'amount',
      rule: 'required',
      message: 'is required: the top-up amount in US dollars',
    });
  } else if (amount === null) {
    issues.push({
      field: 'amount',
      rule: 'amount_format',
      message: 'must be an amount in dollars like 12 or 12.50',
    });
  } else if (amount < TELGOO5_AMOUNT_BOUNDS.min || amount > TELGOO5_AMOUNT_BOUNDS.max) {
    issues.push({
      field: 'amount',
      rule: 'amount_range',
      message: 'must be between 1 and 500 dollars for a Telgoo5 top-up',
    });
  }
  for (const field of ['circle', 'value1', 'value2'] as const) {
    if (text(input[field]) !== undefined)
      issues.push({ field, rule: 'not_used', message: 'is not used for Telgoo5 orders; leave it out' });
  }

  const raw = input.telgoo5;
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
    if (RAW_CARD_FIELDS.includes(key)) issues.push(refuseCardField(`telgoo5.${key}`));
    else if (!(TELGOO5_FIELDS as readonly string[]).includes(key)) {
      issues.push({
        field: `telgoo5.${key}`,
        rule: 'unknown_field',
        message: `is not a Telgoo5 field (allowed: ${TELGOO5_FIELDS.join(', ')})`,
      });
    }
  }
  const id = /^[A-Za-z0-9_-]{1,32}$/;
  const token = /^[A-Za-z0-9_-]{4,64}$/;
  const enrollmentId = text(t.enrollmentId);
  if (!enrollmentId)
    issues.push({
      field: 'telgoo5.enrollmentId',
      rule: 'required',
      message: "is required: the customer's enrollment id in Telgoo5, e.g. AGKN4441",
    });
  else if (!id.test(enrollmentId))
    issues.push({ field: 'telgoo5.enrollmentId', rule: 'format', message: 'must be 1-32 letters or digits' });
  const planCode = text(t.planCode);
  const planId = text(t.planId);
  if (!planCode && !planId)
    issues.push({
      field: 'telgoo5.planCode',
      rule: 'required',
      message: 'planCode or planId is required: the top-up plan from Telgoo5',
    });
  for (const [field, value] of [
    ['planCode', planCode],
    ['planId', planId],
  ] as const) {
    if (value !== undefined && !id.test(value))
      issues.push({ field: `telgoo5.${field}`, rule: 'format', message: 'must be 1-32 letters or digits' });
  }
  const topupType = text(t.topupType)?.toUpperCase();
  if (!topupType)
    issues.push({
      field: 'telgoo5.topupType',
      rule: 'required',
      message: `is required: one of ${TELGOO5_TOPUP_TYPES.join(', ')}`,
    });
  else if (!(TELGOO5_TOPUP_TYPES as readonly string[]).includes(topupType)) {
    issues.push({
      field: 'telgoo5.topupType',
      rule: 'enum',
      message: `must be one of ${TELGOO5_TOPUP_TYPES.join(', ')}`,
    });
  }
  const paymentToken = text(t.paymentToken);
  const customerToken = text(t.customerToken);
  if (!paymentToken && !customerToken) {
    issues.push({
      field: 'telgoo5.paymentToken',
      rule: 'required',
      message: 'paymentToken or customerToken is required: the saved payment profile to charge',
    });
  }
  for (const [field, value] of [
    ['paymentToken', paymentToken],
    ['customerToken', customerToken],
  ] as const) {
    if (value !== undefined && !token.test(value))
      issues.push({
        field: `telgoo5.${field}`,
        rule: 'format',
        message: 'must be 4-64 letters, digits, _ or -',
      });
  }
  const billingState = text(t.billingState)?.toUpperCase();
  if (!billingState)
    issues.push({
      field: 'telgoo5.billingState',
      rule: 'required',
      message: 'is required: the two-letter billing state, e.g. WA',
    });
  else if (!US_STATES.has(billingState))
    issues.push({
      field: 'telgoo5.billingState',
      rule: 'us_state',
      message: 'must be a two-letter US state code, e.g. WA',
    });
  const billingCity = text(t.billingCity);
  if (!billingCity)
    issues.push({ field: 'telgoo5.billingCity', rule: 'required', message: 'is required: the billing city' });
  else if (billingCity.length > 64)
    issues.push({ field: 'telgoo5.billingCity', rule: 'length', message: 'must be at most 64 characters' });
  const billingZip = text(t.billingZip);
  if (billingZip !== undefined && !/^\d{5}(-\d{4})?$/.test(billingZip)) {
    issues.push({
      field: 'telgoo5.billingZip',
      rule: 'zip',
      message: 'must be a US ZIP code like 98104 or 98104-1234',
    });
  }
  const billingAddress1 = text(t.billingAddress1);
  const billingAddress2 = text(t.billingAddress2);
  for (const [field, value] of [
    ['billingAddress1', billingAddress1],
    ['billingAddress2', billingAddress2],
  ] as const) {
    if (value !== undefined && value.length > 100)
      issues.push({ field: `telgoo5.${field}`, rule: 'length', message: 'must be at most 100 characters' });
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
