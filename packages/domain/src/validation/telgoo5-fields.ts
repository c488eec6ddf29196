import { z } from 'zod';

export const TELGOO5_TOPUP_TYPES = ['ADDON', 'ILD', 'DATA', 'TOPUP'] as const;

/**
 * The `telgoo5` object of a Telgoo5 order (operator TELGOO5): what add_topup needs besides the MDN
 * and the amount. Payment is always a saved payment profile token: raw card data is refused at the
 * door and never stored.
 *
 * The one list of its fields and their shape: the Telgoo5Order type, the fields validation allows
 * and the OpenAPI document come from here. The rules of each field (every problem reported at once,
 * in words) are validateTelgoo5Request's.
 */
export const TELGOO5_ORDER_FIELDS = z.strictObject({
  enrollmentId: z.string().describe("the customer's enrollment id in Telgoo5, e.g. AGKN4441"),
  planCode: z.string().optional().describe('the top-up plan (or planId)'),
  planId: z.string().optional(),
  topupType: z.enum(TELGOO5_TOPUP_TYPES),
  paymentToken: z.string().optional().describe('saved payment profile (or customerToken)'),
  customerToken: z.string().optional(),
  billingState: z.string().describe('two-letter US state code, e.g. WA'),
  billingCity: z.string(),
  billingZip: z.string().optional(),
  billingAddress1: z.string().optional(),
  billingAddress2: z.string().optional(),
});

/** The fields of the `telgoo5` object, in the order they are documented. */
export const TELGOO5_FIELDS = Object.keys(TELGOO5_ORDER_FIELDS.shape) as readonly Telgoo5Field[];
export type Telgoo5Field = keyof typeof TELGOO5_ORDER_FIELDS.shape;

/** A validated Telgoo5 top-up, as stored with the order. */
export type Telgoo5Order = Readonly<z.output<typeof TELGOO5_ORDER_FIELDS>>;
