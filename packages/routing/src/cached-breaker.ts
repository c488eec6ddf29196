import type { BreakerCheck, CircuitBreaker } from './circuit-breaker.ts';

/**
 * A breaker that spares Redis the round trips of the healthy case, for the worker's hot path: a
 * `closed` answer is reused for `ttlMs`, and a success is recorded at most once per `ttlMs` while
 * nothing failed here. Everything else goes to the shared breaker as before: an open or half-open
 * breaker (so exactly one probe across processes still holds), every failure (which also drops the
 * cached view), and snapshots.
 *
 * The cost: another process's opening of the breaker is seen here up to `ttlMs` late, and another
 * process's failures are reset by this one's successes up to `ttlMs` late. Neither touches money
 * (the breaker guards provider health; the ledger guards each order). Keep `ttlMs` well under the
 * breaker's open period, so other processes' cached views end before its single probe is handed
 * out (the worker uses min(1 s, open period / 2)).
 */
export function cachedBreaker(
  breaker: CircuitBreaker,
  ttlMs: number,
  now: () => number = Date.now,
): CircuitBreaker {
  const closedUntil = new Map<string, number>();
  const successRecordedUntil = new Map<string, number>();
  // Bumped by every failure and every non-closed answer: a check that was in flight across one
  // must not put its older "closed" back into the cache.
  const generation = new Map<string, number>();
  const bump = (provider: string) => {
    generation.set(provider, (generation.get(provider) ?? 0) + 1);
    closedUntil.delete(provider);
    successRecordedUntil.delete(provider);
  };
  const CLOSED: BreakerCheck = { allowed: true, state: 'closed', probe: false };
  return {
    async check(provider) {
      if ((closedUntil.get(provider) ?? 0) > now()) return CLOSED;
      const asked = generation.get(provider) ?? 0;
      const answer = await breaker.check(provider);
      if (answer.state !== 'closed') bump(provider);
      else if ((generation.get(provider) ?? 0) === asked) closedUntil.set(provider, now() + ttlMs);
      return answer;
    },
    async record(provider, outcome) {
      if (outcome === 'success' && (successRecordedUntil.get(provider) ?? 0) > now()) return 'closed';
      if (outcome === 'failure') bump(provider);
      const asked = generation.get(provider) ?? 0;
      const state = await breaker.record(provider, outcome);
      if (outcome === 'success' && state === 'closed') {
        if ((generation.get(provider) ?? 0) === asked) successRecordedUntil.set(provider, now() + ttlMs);
      } else {
        bump(provider);
      }
      return state;
    },
    snapshot: (provider) => breaker.snapshot(provider),
  };
}
