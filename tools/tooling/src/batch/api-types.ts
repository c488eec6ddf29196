/**
 * What the CLI reads from the API, checked with zod as it arrives. Loose on purpose: states are
 * shown as the API names them (no fixed list here, so a state the API adds later is shown as is),
 * and fields the CLI does not know are kept, not refused.
 */
import { z } from 'zod';

export const batchViewSchema = z.looseObject({
  batchId: z.string(),
  state: z.string(),
  filename: z.string().nullish(),
  rows: z.looseObject({ read: z.number(), accepted: z.number(), rejected: z.number() }),
  orders: z.record(z.string(), z.number()),
  error: z.string().nullish(),
});
export type BatchView = z.infer<typeof batchViewSchema>;

export const batchListSchema = z.looseObject({
  batches: z.array(batchViewSchema),
  nextCursor: z.string().nullish(),
});

export const providersSchema = z.looseObject({
  providers: z.array(
    z.looseObject({
      name: z.string(),
      health: z.string().optional(),
      breaker: z
        .looseObject({
          state: z.string(),
          openedAt: z.string().optional(),
          nextProbeAt: z.string().optional(),
        })
        .optional(),
      balance: z.looseObject({ amount: z.number(), at: z.string().optional() }).nullish(),
    }),
  ),
});
export type ProviderStatus = z.infer<typeof providersSchema>['providers'][number];

export const orderPageSchema = z.looseObject({
  orders: z.array(
    z.looseObject({
      orderId: z.string(),
      status: z.string(),
      batchId: z.string().nullish(),
      route: z.array(z.string()).nullish(),
      history: z
        .array(z.looseObject({ at: z.string(), note: z.string().nullish() }))
        .optional()
        .default([]),
    }),
  ),
});
export type OrderSample = z.infer<typeof orderPageSchema>['orders'][number];

/** The one error shape of the API: `{error, message, issues?}`. */
export const apiErrorSchema = z.looseObject({ error: z.string(), message: z.string() });

/** Order states that still move; every other state (whatever its name) is settled. */
export const MOVING_ORDER_STATES: readonly string[] = ['queued', 'processing', 'pending'];

/** Batch states in which rows are still being read; results.csv is refused (409) in them. */
export const READING_BATCH_STATES: readonly string[] = ['stored', 'importing'];

export function ordersIn(view: BatchView, states: readonly string[]): number {
  return states.reduce((sum, state) => sum + (view.orders[state] ?? 0), 0);
}

/** Orders of the batch that will not move again, in any state the API names. */
export function settledOrders(view: BatchView): number {
  return Object.entries(view.orders)
    .filter(([state]) => !MOVING_ORDER_STATES.includes(state))
    .reduce((sum, [, n]) => sum + n, 0);
}

/** Finished: every row read and no order still moving (`done`, or a state such as `stopped`). */
export function batchFinished(view: BatchView): boolean {
  return (
    !READING_BATCH_STATES.includes(view.state) &&
    view.state !== 'imported' &&
    ordersIn(view, MOVING_ORDER_STATES) === 0
  );
}

/**
 * The batch's reason fields as the API gives them (`error`, `reason`, any `…Reason`), once each:
 * why the import stopped, in the API's words.
 */
export function batchReasons(view: BatchView): string[] {
  const reasons = new Set<string>();
  for (const [key, value] of Object.entries(view))
    if (typeof value === 'string' && value.trim() !== '' && /^(error|reason|\w+Reason)$/.test(key))
      reasons.add(value.trim());
  return [...reasons];
}

/** `success 270, failed 12` from counts by state, largest first, zeros left out. */
export function countsText(counts: Readonly<Record<string, number>>): string {
  const entries = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .sort(([, a], [, b]) => b - a);
  return entries.length === 0 ? 'none' : entries.map(([state, n]) => `${state} ${n}`).join(', ');
}
