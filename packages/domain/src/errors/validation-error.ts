import { RechargeflowError } from './rechargeflow-error.ts';

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
