import type { Paise } from '@rechargeflow/domain';
import type { CircuitBreaker } from './circuit-breaker.ts';

/** `not_enabled`: not in this deployment's PROVIDERS, so no worker would take its queue's jobs. */
export type SkipReason = 'not_enabled' | 'breaker_open' | 'low_balance';

export interface SkippedProvider {
  readonly provider: string;
  readonly reason: SkipReason;
}

export interface SelectProviderInput {
  /** The order's route (from the routing table, fixed when the order was accepted). */
  readonly route: readonly string[];
  /** First index to consider: 0 for a new order, the failed one + 1 after a definite failure. */
  readonly fromIndex: number;
  /** Minor units (paise, or cents for TELGOO5). */
  readonly amount: Paise;
  readonly breaker: Pick<CircuitBreaker, 'check'>;
  /** Last known balance in minor units; `null` when unknown (never a reason to skip). */
  readonly balanceOf: (provider: string) => Promise<number | null>;
  /** The providers enabled here (PROVIDERS), any case; absent: every provider of the route. */
  readonly enabled?: readonly string[] | undefined;
}

export type ProviderSelection =
  | {
      readonly provider: string;
      readonly index: number;
      /** The caller holds the breaker's half-open probe and must `record` its outcome. */
      readonly probe: boolean;
      readonly skipped: readonly SkippedProvider[];
    }
  | { readonly provider: null; readonly skipped: readonly SkippedProvider[] };

/**
 * The first provider at or after `fromIndex` that is enabled, whose breaker lets the call through
 * and whose last known balance covers the amount, with every provider skipped on the way and why.
 */
export async function selectProvider(input: SelectProviderInput): Promise<ProviderSelection> {
  const { route, amount, breaker, balanceOf } = input;
  if (!Number.isSafeInteger(input.fromIndex) || input.fromIndex < 0) {
    throw new RangeError(`fromIndex must be a whole number from 0, got ${input.fromIndex}`);
  }
  const enabled = input.enabled && new Set(input.enabled.map((name) => name.toLowerCase()));
  const skipped: SkippedProvider[] = [];
  for (let index = input.fromIndex; index < route.length; index++) {
    const provider = route[index]!;
    // First, and without asking Redis: a route stored before PROVIDERS changed (or by a part with
    // another PROVIDERS) may name a provider whose queue nothing here consumes.
    if (enabled && !enabled.has(provider.toLowerCase())) {
      skipped.push({ provider, reason: 'not_enabled' });
      continue;
    }
    // Balance before breaker: a half-open check hands out the one probe, which a provider skipped
    // for its balance would then hold unused until the lease ran out.
    const balance = await balanceOf(provider);
    if (balance !== null && balance < amount) {
      skipped.push({ provider, reason: 'low_balance' });
      continue;
    }
    const check = await breaker.check(provider);
    if (!check.allowed) {
      skipped.push({ provider, reason: 'breaker_open' });
      continue;
    }
    return { provider, index, probe: check.probe, skipped };
  }
  return { provider: null, skipped };
}
