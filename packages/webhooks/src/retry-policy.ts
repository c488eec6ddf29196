/**
 * The one back-off of webhook deliveries: after the n-th failed attempt in a row, wait
 * `firstMs · 2^(n-1)` (WEBHOOK_RETRY_FIRST_MS, default 10 s: 10 s, 20 s, 40 s …), never more than
 * an hour, for as long as the delivery is younger than WEBHOOK_RETRY_FOR (default 24 h). With the
 * defaults that is about 30 attempts in a day, the last ones an hour apart.
 */
export const WEBHOOK_BACKOFF = {
  /** The longest wait between two attempts. */
  maxDelayMs: 3_600_000,
} as const;

/** The wait before the next attempt, after `failedInARow` failed attempts (≥ 1). */
export function webhookRetryDelayMs(failedInARow: number, firstMs: number): number {
  const doublings = Math.max(0, Math.min(failedInARow - 1, 40));
  return Math.min(WEBHOOK_BACKOFF.maxDelayMs, firstMs * 2 ** doublings);
}

/** Whether a delivery created at `createdAt` may still be retried at `now` (both ms). */
export function withinRetryWindow(createdAtMs: number, nowMs: number, retryForMs: number): boolean {
  return nowMs - createdAtMs < retryForMs;
}
