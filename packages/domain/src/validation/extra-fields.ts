import type { Operator } from '../catalogue/operators.ts';
import { dateOfBirthProblem } from './date-of-birth.ts';

/** The rule for one extra field (value1 or value2) of one biller. */
export interface ExtraFieldRule {
  /** Machine rule id used when the value is wrong (`required` when it is missing). */
  readonly rule: string;
  /** What the field is, in words: used in the "required" message. */
  readonly what: string;
  /** `null` when the value is acceptable, otherwise the message. */
  readonly problem: (value: string, now: Date) => string | null;
  /**
   * An account number the biller is paid against (up to 20 digits): it may be shaped like a card
   * number, so it is not searched for one.
   */
  readonly accountNumber?: boolean;
}

export interface ExtraFieldRules {
  readonly value1?: ExtraFieldRule;
  readonly value2?: ExtraFieldRule;
}

function pattern(rule: string, what: string, regex: RegExp, accountNumber = false): ExtraFieldRule {
  return {
    rule,
    what,
    problem: (value) => (regex.test(value) ? null : `must be ${what}`),
    ...(accountNumber ? { accountNumber } : {}),
  };
}

/** STD codes are 2 to 5 digits (011 Delhi, 0471 Thiruvananthapuram), sent with the leading 0 if given. */
const STD_CODE = pattern('std_code', 'the STD code of the landline, e.g. 011 (2 to 5 digits)', /^\d{2,5}$/);

const DATE_OF_BIRTH: ExtraFieldRule = {
  rule: 'date_of_birth',
  what: "the policy holder's date of birth written DD-MM-YYYY, e.g. 15-08-1985",
  problem: dateOfBirthProblem,
};

/**
 * value1/value2 exactly as the A1Topup document lists them ("FOR LANDLINE AND UTILITY"); every
 * listed field is required. The document gives no formats beyond the DOB's, so lengths are ours:
 * - LAT Airtel Landline: value1 = STD code;
 * - LBS BSNL Landline: value1 = STD code, value2 = account number (4..20 digits);
 * - LMT MTNL Delhi Landline: value1 = CA number (4..20 digits);
 * - MG Mahanagar Gas: value1 = bill group number (1..10 letters or digits);
 * - MSEDCL: value1 = billing unit (1..6 digits), value2 = processing cycle (1..3 digits);
 * - RELIANCE Reliance Energy: value1 = cycle number (1..3 digits);
 * - every insurance operator (ICP, TAI): value1 = date of birth DD-MM-YYYY, real and in the past.
 */
const BY_CODE: Readonly<Record<string, ExtraFieldRules>> = {
  LAT: { value1: STD_CODE },
  LBS: {
    value1: STD_CODE,
    value2: pattern(
      'bsnl_account_number',
      'the BSNL account number from the bill (4 to 20 digits)',
      /^\d{4,20}$/,
      true,
    ),
  },
  LMT: {
    value1: pattern('ca_number', 'the CA number from the MTNL bill (4 to 20 digits)', /^\d{4,20}$/, true),
  },
  MG: {
    value1: pattern(
      'bill_group_number',
      'the bill group number from the Mahanagar Gas bill (1 to 10 letters or digits)',
      /^[A-Za-z0-9]{1,10}$/,
    ),
  },
  MSEDCL: {
    value1: pattern(
      'billing_unit',
      'the billing unit (BU) from the MSEDCL bill (1 to 6 digits)',
      /^\d{1,6}$/,
    ),
    value2: pattern(
      'processing_cycle',
      'the processing cycle (PC) from the MSEDCL bill (1 to 3 digits)',
      /^\d{1,3}$/,
    ),
  },
  RELIANCE: {
    value1: pattern(
      'cycle_number',
      'the cycle number from the Reliance Energy bill (1 to 3 digits)',
      /^\d{1,3}$/,
    ),
  },
};

const INSURANCE: ExtraFieldRules = { value1: DATE_OF_BIRTH };

/** The value1/value2 rules for an operator; an absent field is one the operator does not use. */
export function extraFieldRules(operator: Operator): ExtraFieldRules {
  if (operator.category === 'insurance') return INSURANCE;
  return BY_CODE[operator.code] ?? {};
}
