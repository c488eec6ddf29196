/**
 * Money is held as an integer count of paise (1 rupee = 100 paise) so that sums are exact.
 * Input and provider wire formats use rupees with at most two decimals.
 */
export type Paise = number & { readonly __brand: 'Paise' };

const RUPEES_PATTERN = /^(0|[1-9]\d{0,8})(\.\d{1,2})?$/;

/** Parses "10", "10.5", "10.50" or the number 10.5 into paise; `null` when it is not such an amount. */
export function parseRupees(value: unknown): Paise | null {
  const text = typeof value === 'number' ? (Number.isFinite(value) ? String(value) : '') : value;
  if (typeof text !== 'string' || !RUPEES_PATTERN.test(text.trim())) return null;
  const [whole = '0', fraction = ''] = text.trim().split('.');
  return (Number(whole) * 100 + Number(fraction.padEnd(2, '0'))) as Paise;
}

export function paise(value: number): Paise {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a paise amount: ${value}`);
  return value as Paise;
}

/** "10" for 1000 paise, "10.50" for 1050: the form sent to providers and shown to people. */
export function formatRupees(amount: Paise): string {
  const whole = Math.floor(amount / 100);
  const fraction = amount % 100;
  return fraction === 0 ? String(whole) : `${whole}.${String(fraction).padStart(2, '0')}`;
}

/** The JSON number form used by the HTTP API (10.5 for 1050 paise). */
export function toRupeesNumber(amount: Paise): number {
  return amount / 100;
}
