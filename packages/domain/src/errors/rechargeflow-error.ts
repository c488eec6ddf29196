/**
 * The one error base of Rechargeflow: every error the system throws on purpose extends it, so a
 * caller tells ours from the unexpected with one `instanceof`. `retryable` tells a queue or caller
 * whether doing the same thing again can help; `retryAfterMs` (with `retryable`) asks for the next
 * run no sooner than that, without counting it as a failed attempt (a wait, not a failure); `context`
 * carries safe, structured facts for logs (never secrets or full phone numbers).
 */
export class RechargeflowError extends Error {
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(
    message: string,
    options: {
      retryable?: boolean;
      retryAfterMs?: number;
      context?: Record<string, unknown>;
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.context = Object.freeze({ ...(options.context ?? {}) });
  }
}
