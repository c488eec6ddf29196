/**
 * Per-client fixed-window limit, in process. Answers how long to wait when over. (A shared,
 * Redis-backed limit for several API replicas is planned with the security review.)
 */
export function createRateLimiter(perMinute: number, now: () => number = Date.now) {
  const windows = new Map<string, { start: number; count: number }>();
  return (clientId: string): { allowed: true } | { allowed: false; retryAfterSeconds: number } => {
    const t = now();
    const windowStart = t - (t % 60_000);
    let entry = windows.get(clientId);
    if (!entry || entry.start !== windowStart) {
      entry = { start: windowStart, count: 0 };
      windows.set(clientId, entry);
    }
    entry.count++;
    if (entry.count <= perMinute) return { allowed: true };
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((windowStart + 60_000 - t) / 1000)) };
  };
}
