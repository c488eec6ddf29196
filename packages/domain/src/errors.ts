/**
 * The one error base of Rechargeflow. `retryable` tells a queue or caller whether doing the same
 * thing again can help; `context` carries safe, structured facts for logs (never secrets or full
 * phone numbers).
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

/** One thing wrong with one input field, in words a shop owner understands. */
export interface FieldIssue {
  /** The input field, e.g. `number` or `value1`. */
  readonly field: string;
  /** A short machine-readable rule name, e.g. `required`, `mobile_number`, `operator_known`. */
  readonly rule: string;
  /** The plain-language explanation. */
  readonly message: string;
}

/** Bad input: lists every field that is wrong, never just the first. */
export class ValidationError extends RechargeflowError {
  readonly issues: readonly FieldIssue[];

  constructor(issues: readonly FieldIssue[]) {
    super(`invalid input: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`, {
      retryable: false,
      context: { fields: issues.map((i) => i.field) },
    });
    this.issues = issues;
  }
}

/** A state change the order state machine forbids. */
export class IllegalTransitionError extends RechargeflowError {
  constructor(from: string, to: string) {
    super(`illegal order transition ${from} -> ${to}`, { retryable: false, context: { from, to } });
  }
}
