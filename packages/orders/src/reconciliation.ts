import type { BalanceSample, BalanceStore, OrderStore, ProviderSummary } from '@rechargeflow/ledger';

export interface ProviderReconciliation extends ProviderSummary {
  /** The last balance sample at or before the window's start, if any. */
  readonly balanceAtStart: BalanceSample | null;
  /** The last balance sample at or before the window's end, if any. */
  readonly balanceAtEnd: BalanceSample | null;
  /** Balance at start − balance at end (what the provider took); null without both samples. */
  readonly balanceDrop: number | null;
  /** The ledger's net spend: success amount − reversed amount. */
  readonly netSpend: number;
  /**
   * balanceDrop − netSpend: 0 when they match; otherwise orders of other windows settling in this
   * one, top-ups of the balance, or something to look into. Null without both samples.
   */
  readonly difference: number | null;
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
      const balanceDrop =
        balanceAtStart && balanceAtEnd ? balanceAtStart.balance - balanceAtEnd.balance : null;
      const netSpend = summary.success.amount - summary.reversed.amount;
      const difference = balanceDrop === null ? null : balanceDrop - netSpend;
      return { ...summary, balanceAtStart, balanceAtEnd, balanceDrop, netSpend, difference };
    }),
  );
  return { from, to, providers };
}
