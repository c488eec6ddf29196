import { type Paise, paise } from '../amount.ts';
import type { OperatorCategory } from '../catalogue/operators.ts';

/** Inclusive amount limits for one category, in paise. */
export interface AmountBounds {
  readonly min: Paise;
  readonly max: Paise;
}

function rupees(min: number, max: number): AmountBounds {
  return Object.freeze({ min: paise(min * 100), max: paise(max * 100) });
}

/**
 * Per-category amount limits. The A1Topup document gives none, so these are our own guard rails
 * against typos (an extra zero) rather than the billers' limits; a biller may still refuse less:
 * - prepaid mobile, data card, other (Google Play, payments bank): 1..10,000 rupees, above any
 *   retail pack;
 * - DTH: 1..25,000 (long-duration packs);
 * - postpaid mobile and landline bills: 1..50,000;
 * - electricity, gas, insurance bills: 1..2,00,000;
 * - FASTag: 1..1,00,000 (the full-KYC FASTag wallet limit);
 * - money transfer (IMPS): 1..25,000, a conservative per-transaction cap for retail transfers.
 */
export const AMOUNT_BOUNDS: Readonly<Record<OperatorCategory, AmountBounds>> = Object.freeze({
  mobile: rupees(1, 10_000),
  postpaid_mobile: rupees(1, 50_000),
  landline: rupees(1, 50_000),
  dth: rupees(1, 25_000),
  electricity: rupees(1, 200_000),
  gas: rupees(1, 200_000),
  insurance: rupees(1, 200_000),
  money_transfer: rupees(1, 25_000),
  data_card: rupees(1, 10_000),
  fastag: rupees(1, 100_000),
  other: rupees(1, 10_000),
});

/** The widest limits of any category: what an amount is checked against when the operator is unknown. */
export const ANY_OPERATOR_AMOUNT_BOUNDS: AmountBounds = Object.freeze({
  min: paise(Math.min(...Object.values(AMOUNT_BOUNDS).map((bounds) => bounds.min))),
  max: paise(Math.max(...Object.values(AMOUNT_BOUNDS).map((bounds) => bounds.max))),
});

const INDIAN_GROUPING = new Intl.NumberFormat('en-IN', { maximumFractionDigits: 0 });

/** "2,00,000" or "1,999.50": rupees with Indian digit grouping, as a shop owner writes amounts. */
export function formatRupeesForPeople(amount: Paise): string {
  const whole = INDIAN_GROUPING.format(Math.floor(amount / 100));
  const fraction = amount % 100;
  return fraction === 0 ? whole : `${whole}.${String(fraction).padStart(2, '0')}`;
}
