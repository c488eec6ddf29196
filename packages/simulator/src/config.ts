import { z } from 'zod';
import { BEHAVIOURS, OUTCOMES } from './behaviours.ts';

/** When the callback of a definite answer is sent, relative to the answer (`answerCallback`). */
export const ANSWER_CALLBACK_MODES = ['off', 'before', 'after', 'race'] as const;
export type AnswerCallbackMode = (typeof ANSWER_CALLBACK_MODES)[number];

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
  /** `trickle`: pause between the bytes of the answer (1000: one byte per second). */
  trickleByteMs: z.number().int().min(1).max(60_000),
  /** Where late results and reversals are sent; `null` for nowhere. */
  callbackUrl: z.url({ protocol: /^https?$/ }).nullable(),
  callbackTimeoutMs: millis,
  /**
   * How many times every automatic callback (late result, reversal) is sent: providers do repeat
   * them, and the ingestor must apply them once.
   */
  callbackCopies: z.number().int().min(1).max(20),
  /** Copies sent at once (racing each other) rather than one after another. */
  callbackConcurrent: z.boolean(),
  /**
   * A definite answer (Success or Failure, at once) to a new order also sends that result as a
   * callback, as providers that call back on every final result do: `off`; `before` (delivered
   * before the answer is sent); `after` (started once the answer has been sent); `race` (before or
   * after, drawn per order from the seed and the orderid). Copies follow the two knobs above.
   */
  answerCallback: z.enum(ANSWER_CALLBACK_MODES),
  /**
   * Spreads that race: each order waits a share of this (drawn from the seed and the orderid)
   * between the callback's delivery and the answer (`before`), or between the answer and the
   * callback (`after`). 0: back to back.
   */
  answerCallbackGapMs: millis,
  /** Whether magic amounts (13, 17, ...) select behaviours. */
  magicAmounts: z.boolean(),
  /**
   * XML answers with named elements (`<TXID>`, `<STATUS>`, ...) or with values only in document
   * order (`<value>`), as the provider's sample suggests.
   */
  xmlStyle: z.enum(['named', 'positional']),
  /** Telgoo5: how long a token lives after issue (the provider says 15 minutes); shorten it in tests. */
  telgoo5TokenTtlMs: z.number().int().min(1).max(86_400_000),
  /**
   * Telgoo5: render answers that carry an `errors` array exactly like the document's samples, which
   * are not valid JSON (no comma after the array). Off: valid JSON.
   */
  telgoo5DocumentBodies: z.boolean(),
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
  trickleByteMs: 1_000,
  callbackUrl: null,
  callbackTimeoutMs: 5_000,
  callbackCopies: 1,
  callbackConcurrent: false,
  answerCallback: 'off',
  answerCallbackGapMs: 0,
  magicAmounts: true,
  xmlStyle: 'named',
  telgoo5TokenTtlMs: 15 * 60_000,
  telgoo5DocumentBodies: false,
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

const callbackStatus = z.enum(['Success', 'Failure']);

/** `POST /_sim/callbacks`: send callbacks for an existing order now, in the given order. */
export const callbackRequestSchema = z
  .object({
    orderid: z.string().min(1).max(128),
    /** Sent element by element, in this order; default: one callback with the current status. */
    sequence: z
      .array(
        z
          .object({
            status: callbackStatus,
            /** Default: the order's opid; `''` sends an empty one. */
            opid: z.string().max(128).optional(),
          })
          .strict(),
      )
      .min(1)
      .max(50)
      .optional(),
    /** Each element this many times (default 1). */
    copies: z.number().int().min(1).max(20).optional(),
    /** Copies of one element at once rather than one after another (default false). */
    concurrent: z.boolean().optional(),
    /** Pause between elements (default 0); capped, since the control request waits for it. */
    gapMs: z.number().int().min(0).max(60_000).optional(),
    /** Send here instead of the configured callbackUrl (never logged). */
    url: z.url({ protocol: /^https?$/ }).optional(),
  })
  .strict();
export type CallbackRequest = z.infer<typeof callbackRequestSchema>;

/** `POST /_sim/reverse/:orderid` body. */
export const reverseRequestSchema = z
  .object({
    /** Send the reversal's Failure callback (default true); false lets a test send it itself. */
    callback: z.boolean().optional(),
  })
  .strict();
export type ReverseOptions = z.infer<typeof reverseRequestSchema>;

/** `POST /_sim/status/:orderid` body: what the status API answers; `null` clears the override. */
export const forceStatusSchema = z
  .object({ status: z.enum(['Success', 'Failure', 'Pending']).nullable() })
  .strict();
export type ForcedStatus = 'Success' | 'Failure' | 'Pending';
