import { z } from 'zod';
import type { FieldIssue } from '../errors.ts';
import { cardDataIssues } from './card-numbers.ts';
import { TELGOO5_ORDER_FIELDS } from './telgoo5-fields.ts';

/** Client and order ids: what the API accepts (safe in URLs, CSV cells and log lines). */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * The fields of a recharge request as a client sends them: the JSON body of `POST /v1/recharges`,
 * one row of a CSV batch. The one list of them, in their documented order; from it come
 * - the fields the API accepts (any other is refused by name) and the CSV columns (every field
 *   a cell can hold: all but the objects), required where they are required here;
 * - the request body of the OpenAPI document (`z.toJSONSchema`), with these descriptions;
 * - the `RechargeRequest` type: these fields, normalised, but `orderId` (the order's key).
 *
 * The schema gives the shape only. The rules (validateRechargeRequest, orderIdIssues) check every
 * field and report every problem at once, in words, with card data refused first; a field added
 * here needs its rule there.
 */
export const RECHARGE_REQUEST_FIELDS = z.strictObject({
  orderId: z.string().regex(ID_PATTERN).describe('your unique id for the order'),
  operator: z
    .string()
    .describe('operator code from the A1Topup table, e.g. A (Airtel), ATV (Airtel DTH); TELGOO5 for Telgoo5'),
  circle: z.string().optional().describe('circle code, e.g. 5 (Delhi)'),
  number: z.string().describe('mobile number, DTH id, or account/consumer number'),
  amount: z.union([z.number(), z.string()]).describe('rupees, at most two decimals'),
  value1: z.string().optional().describe('extra biller field (STD code, billing unit, date of birth...)'),
  value2: z.string().optional().describe('second extra biller field'),
  telgoo5: TELGOO5_ORDER_FIELDS.optional().describe(
    'operator TELGOO5 only: number is the MDN, amount in US dollars; raw card fields are refused',
  ),
});

type Shape = typeof RECHARGE_REQUEST_FIELDS.shape;
export type RechargeField = keyof Shape;
/** The fields a CSV cell can hold (text or a number): all but the objects. */
export type RechargeColumn = {
  [K in RechargeField]-?: NonNullable<z.output<Shape[K]>> extends object ? never : K;
}[RechargeField];

/** Every request field, in order. */
export const RECHARGE_FIELDS = Object.keys(RECHARGE_REQUEST_FIELDS.shape) as readonly RechargeField[];

/** The request fields a CSV batch has columns for, in order. */
export const RECHARGE_COLUMNS = RECHARGE_FIELDS.filter((field): field is RechargeColumn => {
  const schema: z.ZodType = RECHARGE_REQUEST_FIELDS.shape[field];
  return !((schema instanceof z.ZodOptional ? schema.unwrap() : schema) instanceof z.ZodObject);
});

/** The fields every request must give. */
export const REQUIRED_RECHARGE_FIELDS: readonly RechargeField[] = RECHARGE_FIELDS.filter(
  (field) => !RECHARGE_REQUEST_FIELDS.shape[field].safeParse(undefined).success,
);

/** Raw request fields as they arrive from JSON or CSV cells; an empty string means "not given". */
export type RechargeRequestInput = { readonly [K in Exclude<RechargeField, 'orderId'>]?: unknown };

/**
 * The problems with an order id as given (a JSON field, a CSV cell already trimmed): card data
 * (refused as such, nothing else checked), missing, or not 1-64 letters, digits, `.`, `_`, `-`.
 */
export function orderIdIssues(raw: unknown): FieldIssue[] {
  const card = cardDataIssues('orderId', raw);
  if (card.length > 0) return card;
  if (raw === undefined || raw === null || raw === '') {
    return [
      { field: 'orderId', rule: 'required', message: 'is required: your own unique id for this order' },
    ];
  }
  if (typeof raw !== 'string' || !ID_PATTERN.test(raw)) {
    return [
      {
        field: 'orderId',
        rule: 'order_id',
        message: 'must be 1-64 letters, digits, dot, dash or underscore, starting with a letter or digit',
      },
    ];
  }
  return [];
}
