import { type A1TopupTimingOptions, resolveA1TopupTiming } from './options.ts';

/**
 * The longest one A1Topup recharge call can take, in ms: `timeoutMs`. The call is one POST, never
 * retried, and its abort signal starts before the connection is opened, so the connect time is
 * spent inside `timeoutMs`, not added to it (the pool's connect, headers and body timeouts only end
 * it sooner). Redis or CPU time is not counted: the caller's margin covers it.
 */
export function worstCaseRechargeMs(options: A1TopupTimingOptions): number {
  return resolveA1TopupTiming(options).timeoutMs;
}
