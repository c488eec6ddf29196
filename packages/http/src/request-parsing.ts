import {
  cardDataIssues,
  type FieldIssue,
  isRawCardFieldName,
  ORDER_STATES,
  type OrderState,
  orderIdIssues,
  RECHARGE_FIELDS,
  type RechargeRequest,
  refuseCardField,
  validateRechargeRequest,
} from '@rechargeflow/domain';
import { z } from 'zod';

export type ParsedRecharge =
  | { ok: true; orderId: string; request: RechargeRequest }
  | { ok: false; issues: FieldIssue[] };

/**
 * Checks the whole body and reports every problem at once: unknown fields, the order id, and
 * every rule of the domain validation (operator, number, amount, value1/value2 ...).
 */
export function parseRechargeBody(body: unknown): ParsedRecharge {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return {
      ok: false,
      issues: [{ field: '(body)', rule: 'json_object', message: 'the body must be a JSON object' }],
    };
  }
  const record = body as Record<string, unknown>;
  const issues: FieldIssue[] = [];
  for (const key of Object.keys(record)) {
    if (isRawCardFieldName(key)) {
      issues.push(refuseCardField(key));
    } else if (!(RECHARGE_FIELDS as readonly string[]).includes(key)) {
      issues.push({
        field: key,
        rule: 'unknown_field',
        message: `is not a recharge field (allowed: ${RECHARGE_FIELDS.join(', ')})`,
      });
      // Card data is named as such wherever it hides (the recharge fields: validateRechargeRequest).
      issues.push(...cardDataIssues(key, record[key]));
    }
  }
  const orderId = record.orderId;
  issues.push(...orderIdIssues(orderId));
  // The validation reads the request's fields only: the unknown ones are refused above.
  const validated = validateRechargeRequest(record);
  if (!validated.ok) issues.push(...validated.issues);
  if (issues.length > 0 || !validated.ok) return { ok: false, issues };
  return { ok: true, orderId: orderId as string, request: validated.value };
}

export const listQuerySchema = z
  .object({
    status: z
      .enum(ORDER_STATES as unknown as [OrderState, ...OrderState[]], {
        error: `must be one of ${ORDER_STATES.join(', ')}`,
      })
      .optional(),
    limit: z.coerce
      .number({ error: 'must be a number' })
      .int('must be a whole number')
      .min(1, 'must be at least 1')
      .max(500, 'must be at most 500')
      .default(50),
    cursor: z.string().max(200, 'is not a cursor from this API').optional(),
  })
  .strict();

export function zodIssuesToFieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((issue): FieldIssue[] => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((k) => ({
        field: k,
        rule: 'unknown_field',
        message: 'is not a known parameter',
      }));
    }
    return [
      { field: issue.path.map(String).join('.') || '(query)', rule: issue.code, message: issue.message },
    ];
  });
}
