import { z } from 'zod';
import { BEHAVIOURS, OUTCOMES } from './behaviours.ts';

const rate = z.number().min(0).max(1);
const millis = z.number().int().min(0).max(3_600_000);

const sizeBytes = z
  .number()
  .int()
  .min(1)
  .max(64 * 1024 * 1024);

/** The knobs that can change while the simulator runs (`POST /_sim/config`). */
const runtimeFields = z.object({
  /** Base delay before every API answer. */
  latencyMs: millis,
  /** Fault rates for new orders without a script or magic amount; their sum must be at most 1. */
  failureRate: rate,
  pendingRate: rate,
  garbageRate: rate,
  serverErrorRate: rate,
  timeoutRate: rate,
  resetRate: rate,
  /** How long a pending order stays pending, and how long a success lasts before a reversal. */
  settleAfterMs: millis,
  /** Extra delay of the `slow` behaviour. */
  slowMs: millis,
  /** How long `timeout` holds a request before dropping the connection (or until close). */
  holdMs: millis,
  /** Body size of the `oversize` behaviour. */
  oversizeBytes: sizeBytes,
  /** Where late results and reversals are sent; `null` for nowhere. */
  callbackUrl: z.url({ protocol: /^https?$/ }).nullable(),
  callbackTimeoutMs: millis,
  /** Whether magic amounts (13, 17, ...) select behaviours. */
  magicAmounts: z.boolean(),
  /**
   * XML answers with named elements (`<TXID>`, `<STATUS>`, ...) or with values only in document
   * order (`<value>`), as the provider's sample suggests.
   */
  xmlStyle: z.enum(['named', 'positional']),
});

export function faultRateSum(c: RuntimeConfig): number {
  return c.failureRate + c.pendingRate + c.garbageRate + c.serverErrorRate + c.timeoutRate + c.resetRate;
}

export const runtimeConfigSchema = runtimeFields.refine((c) => faultRateSum(c) <= 1, {
  message: 'the fault rates must add up to at most 1',
});
export type RuntimeConfig = z.infer<typeof runtimeFields>;

export const runtimeConfigPatchSchema = runtimeFields.partial().strict();
export type RuntimeConfigPatch = z.infer<typeof runtimeConfigPatchSchema>;

export const DEFAULT_RUNTIME_CONFIG: RuntimeConfig = {
  latencyMs: 0,
  failureRate: 0,
  pendingRate: 0,
  garbageRate: 0,
  serverErrorRate: 0,
  timeoutRate: 0,
  resetRate: 0,
  settleAfterMs: 2_000,
  slowMs: 2_000,
  holdMs: 60_000,
  oversizeBytes: 1024 * 1024,
  callbackUrl: null,
  callbackTimeoutMs: 5_000,
  magicAmounts: true,
  xmlStyle: 'named',
};

/** `POST /_sim/script`: how to treat the next order for a number, or a given orderid. */
export const scriptSchema = z
  .object({
    number: z.string().min(1).max(64).optional(),
    orderid: z.string().min(1).max(128).optional(),
    behaviour: z.enum(BEHAVIOURS),
    /** `slow`: delay before answering (default `slowMs`). */
    delayMs: millis.optional(),
    /** Pending and reversal behaviours: time until the final state (default `settleAfterMs`). */
    settleAfterMs: millis.optional(),
    /** Transport faults: what really happened behind the lost answer (default `success`). */
    outcome: z.enum(OUTCOMES).optional(),
    /** Number scripts: how many new orders they apply to (default 1). */
    times: z.number().int().min(1).max(1_000_000).optional(),
  })
  .strict()
  .refine((s) => s.number !== undefined || s.orderid !== undefined, {
    message: 'give a number or an orderid',
  });
export type Script = z.infer<typeof scriptSchema>;
