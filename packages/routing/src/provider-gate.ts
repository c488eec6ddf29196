import type { CircuitBreaker } from './circuit-breaker.ts';
import { type SkipReason, selectProvider } from './select-provider.ts';

/** Why a provider was passed over, in the words of an order's history. */
const SKIP_WORDS: Record<SkipReason, string> = {
  not_enabled: 'not enabled here',
  breaker_open: 'circuit open',
  low_balance: 'balance too low',
};

/**
 * The worker's view of the routing layer: which provider of a route may take an order now
 * (breakers, balances), and the outcome of each call for the breaker. Structurally the
 * `ProviderGate` of @rechargeflow/orders.
 */
export function createProviderGate(options: {
  breaker: CircuitBreaker;
  /** Last known balance in minor units, or null when unknown (never skips). */
  balanceOf: (provider: string) => Promise<number | null>;
  /**
   * How long a balance read is reused (default 0: read for every order). Balances are sampled by
   * the poller every few minutes, so a few seconds of reuse changes nothing but the Redis load.
   */
  balanceCacheMs?: number;
  /**
   * The providers enabled here (PROVIDERS): any other provider of a route is skipped, so no order is
   * rerouted or failed over to a queue nothing consumes. Absent: every provider of the route.
   */
  enabled?: readonly string[];
  now?: () => number;
}) {
  const now = options.now ?? Date.now;
  const cacheMs = options.balanceCacheMs ?? 0;
  const balances = new Map<string, { readonly until: number; readonly value: Promise<number | null> }>();
  const balanceOf = (provider: string): Promise<number | null> => {
    if (cacheMs <= 0) return options.balanceOf(provider);
    const cached = balances.get(provider);
    if (cached && cached.until > now()) return cached.value;
    const value = options.balanceOf(provider);
    balances.set(provider, { until: now() + cacheMs, value });
    // A failed read is not reused.
    value.catch(() => balances.delete(provider));
    return value;
  };
  return {
    async select(route: readonly string[], fromIndex: number, amount: number) {
      const choice = await selectProvider({
        route,
        fromIndex,
        amount: amount as Parameters<typeof selectProvider>[0]['amount'],
        breaker: options.breaker,
        balanceOf,
        enabled: options.enabled,
      });
      if (choice.provider !== null) return { provider: choice.provider, index: choice.index };
      const skipped = choice.skipped.map((s) => `${s.provider} ${SKIP_WORDS[s.reason]}`);
      return {
        provider: null,
        reason: skipped.length > 0 ? skipped.join(', ') : 'no provider left in the route',
      } as const;
    },
    async record(provider: string, outcome: 'success' | 'failure') {
      await options.breaker.record(provider, outcome);
    },
  };
}
