import { resolveTelgoo5Timing, type Telgoo5TimingOptions } from './options.ts';

/**
 * The longest one Telgoo5 recharge call can take, in ms. The client makes up to
 * `maxTokenRetries + 1` tries (a RESTAPI001 rejection proves nothing ran, so it tries again at once,
 * with no back-off), and each try first gets a token:
 * - it waits up to `authWaitMs` for a token another process is fetching, and when it holds the
 *   sign-in lock itself it signs in (`timeoutMs`) even when that starts just before the wait ends;
 *   when the token it fetched under the lock was taken by another process meanwhile, it signs in
 *   once more on its own after the wait (`timeoutMs`);
 * - then the top-up itself (`timeoutMs`; its abort signal covers the connect, as for A1Topup).
 * So each try is `authWaitMs + 3 × timeoutMs`. Redis round trips of the token lease are not counted:
 * the caller's margin covers them.
 */
export function worstCaseRechargeMs(options: Telgoo5TimingOptions): number {
  const timing = resolveTelgoo5Timing(options);
  const tries = timing.maxTokenRetries + 1;
  const signIns = 2 * timing.timeoutMs;
  return tries * (timing.authWaitMs + signIns + timing.timeoutMs);
}
