let lastIso = '';
let lastMs = 0;

/** Epoch milliseconds of a caller-supplied ISO time; refuses anything that is not a time. */
export function timeMs(iso: string, what: string): number {
  // The same time comes many times in a row (one millisecond's transitions): parsed once.
  if (iso === lastIso) return lastMs;
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms) || ms < 0)
    throw new RangeError(`${what} is not an ISO time: ${JSON.stringify(iso)}`);
  lastIso = iso;
  lastMs = ms;
  return ms;
}
