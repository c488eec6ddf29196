import type { BalanceSample, BalanceStore, OrderStore, ProviderSummary } from '@rechargeflow/ledger';

export interface ProviderReconciliation extends ProviderSummary {
  /** The last balance sample at or before the window's start, if any. */
  readonly balanceAtStart: BalanceSample | null;
  /** The last balance sample at or before the window's end, if any. */
  readonly balanceAtEnd: BalanceSample | null;
}

export interface ReconciliationReport {
  readonly from: string;
  readonly to: string;
  readonly providers: readonly ProviderReconciliation[];
}

/** Per provider: orders created in [from, to) by state, with the provider balance at both ends. */
export async function reconcile(
  ledger: Pick<OrderStore, 'summarize'> & Pick<BalanceStore, 'balanceAt'>,
  from: string,
  to: string,
  providerNames: readonly string[],
): Promise<ReconciliationReport> {
  const summaries = await ledger.summarize(from, to);
  const names = [...new Set([...providerNames, ...summaries.map((s) => s.provider)])].sort();
  const zero = { count: 0, amount: 0 } as ProviderSummary['submitted'];
  const providers = await Promise.all(
    names.map(async (provider): Promise<ProviderReconciliation> => {
      const summary = summaries.find((s) => s.provider === provider) ?? {
        provider,
        submitted: zero,
        success: zero,
        failed: zero,
        reversed: zero,
        pending: zero,
        inProgress: zero,
      };
      const [balanceAtStart, balanceAtEnd] = await Promise.all([
        ledger.balanceAt(provider, from),
        ledger.balanceAt(provider, to),
      ]);
      return { ...summary, balanceAtStart, balanceAtEnd };
    }),
  );
  return { from, to, providers };
}
