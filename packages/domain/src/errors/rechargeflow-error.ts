/**
 * The one error base of Rechargeflow: every error the system throws on purpose extends it, so a
 * caller tells ours from the unexpected with one `instanceof`. `retryable` tells a queue or caller
 * whether doing the same thing again can help; `context` carries safe, structured facts for logs
 * (never secrets or full phone numbers).
 */
export class RechargeflowError extends Error {
  readonly retryable: boolean;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(
    message: string,
    options: { retryable?: boolean; context?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retryable = options.retryable ?? false;
    this.context = Object.freeze({ ...(options.context ?? {}) });
  }
}
