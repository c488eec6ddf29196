/** Epoch milliseconds of a caller-supplied ISO time; refuses anything that is not a time. */
export function timeMs(iso: string, what: string): number {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms) || ms < 0)
    throw new RangeError(`${what} is not an ISO time: ${JSON.stringify(iso)}`);
  return ms;
}
