import type { OperatorCategory } from '../catalogue/operators.ts';
import type { FieldIssue } from '../errors.ts';

export type NumberCheck =
  | { readonly ok: true; readonly value: string }
  | { readonly ok: false; readonly issue: FieldIssue };

const ALPHANUMERIC_4_30 = /^[A-Za-z0-9]{4,30}$/;

/** What the `number` is called for the categories that share the plain alphanumeric rule. */
const ACCOUNT_WORDS = {
  fastag: 'vehicle number or FASTag wallet ID',
  money_transfer: 'beneficiary account number',
  data_card: 'data card number',
  other: 'account or customer number for this operator',
} as const;

/**
 * Categories whose `number` is an account, consumer or policy number the biller is paid against:
 * up to 30 letters or digits, so a real one may be shaped like a card number. These are not
 * searched for card numbers (a card-shaped account number is still an account number); every
 * other field is.
 */
export const NUMBER_IS_ACCOUNT: ReadonlySet<OperatorCategory> = new Set([
  'electricity',
  'gas',
  'insurance',
  'fastag',
  'money_transfer',
  'data_card',
  'other',
]);

/**
 * Accepts a mobile number with a +91, 91 or 0 prefix and spaces or dashes, and returns its 10
 * digits; `null` when it is not an Indian mobile number (10 digits starting 6, 7, 8 or 9).
 * A prefix is only stripped when the length says it is one, so 9198765432 stays as it is.
 */
export function normaliseMobileNumber(text: string): string | null {
  let digits = text.replace(/[\s-]/g, '');
  if (/^\+91\d{10}$/.test(digits)) digits = digits.slice(3);
  else if (/^91\d{10}$/.test(digits)) digits = digits.slice(2);
  else if (/^0\d{10}$/.test(digits)) digits = digits.slice(1);
  return /^[6-9]\d{9}$/.test(digits) ? digits : null;
}

function issue(rule: string, message: string): NumberCheck {
  return { ok: false, issue: { field: 'number', rule, message } };
}

/**
 * The `number` field by category (the A1Topup document only names what goes in it; lengths are
 * ours):
 * - mobile, postpaid_mobile: Indian 10-digit mobile, normalised (rule `mobile_number`);
 * - dth: subscriber/customer id, 6..14 digits, spaces and dashes dropped (rule `dth_number`);
 * - landline: the landline number without STD code, 6..8 digits (rule `landline_number`);
 * - electricity, gas: consumer/account number, 4..30 letters or digits (rule `consumer_number`);
 * - insurance: policy number, 4..30 letters, digits, `/` or `-`, starting with a letter or digit
 *   (rule `policy_number`);
 * - fastag, money_transfer, data_card, other: 4..30 letters or digits (rule `account_number`).
 * Alphanumeric ids are sent exactly as given (after trimming): we do not guess at a biller's id.
 */
export function checkNumber(category: OperatorCategory, text: string): NumberCheck {
  switch (category) {
    case 'mobile':
    case 'postpaid_mobile': {
      const mobile = normaliseMobileNumber(text);
      return mobile === null
        ? issue('mobile_number', 'must be a 10-digit Indian mobile number starting with 6, 7, 8 or 9')
        : { ok: true, value: mobile };
    }
    case 'dth': {
      const digits = text.replace(/[\s-]/g, '');
      return /^\d{6,14}$/.test(digits)
        ? { ok: true, value: digits }
        : issue('dth_number', 'must be the DTH subscriber or customer ID: 6 to 14 digits');
    }
    case 'landline': {
      const digits = text.replace(/[\s-]/g, '');
      return /^\d{6,8}$/.test(digits)
        ? { ok: true, value: digits }
        : issue('landline_number', 'must be the landline number without the STD code: 6 to 8 digits');
    }
    case 'electricity':
    case 'gas':
      return ALPHANUMERIC_4_30.test(text)
        ? { ok: true, value: text }
        : issue(
            'consumer_number',
            'must be the consumer or account number printed on the bill: 4 to 30 letters or digits, no spaces',
          );
    case 'insurance':
      return /^[A-Za-z0-9][A-Za-z0-9/-]{3,29}$/.test(text)
        ? { ok: true, value: text }
        : issue(
            'policy_number',
            'must be the insurance policy number: 4 to 30 letters or digits (/ and - allowed), no spaces',
          );
    case 'fastag':
    case 'money_transfer':
    case 'data_card':
    case 'other':
      return ALPHANUMERIC_4_30.test(text)
        ? { ok: true, value: text }
        : issue(
            'account_number',
            `must be the ${ACCOUNT_WORDS[category]}: 4 to 30 letters or digits, no spaces`,
          );
  }
}
