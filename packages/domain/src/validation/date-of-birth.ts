/**
 * Checks a date of birth written DD-MM-YYYY (the form the A1Topup document asks for insurance
 * value1). Returns `null` when it is fine, or what is wrong in plain words. "In the past" is
 * judged by UTC calendar day; years before 1900 are refused as typos.
 */
export function dateOfBirthProblem(text: string, now: Date): string | null {
  const match = /^(\d{2})-(\d{2})-(\d{4})$/.exec(text);
  if (match === null) {
    return "must be the policy holder's date of birth written DD-MM-YYYY, e.g. 15-08-1985";
  }
  const day = Number(match[1]);
  const month = Number(match[2]);
  const year = Number(match[3]);
  // Date.UTC rolls 31-02 over into March: a real date is one that survives the round trip.
  const date = new Date(Date.UTC(year, month - 1, day));
  const real =
    date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  if (!real) return `must be a real calendar date written DD-MM-YYYY; ${text} does not exist`;
  if (year < 1900) return `must be a date of birth after 1900; ${text} looks mistyped`;
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  if (date.getTime() >= today) return `must be a date of birth in the past; ${text} is not`;
  return null;
}
