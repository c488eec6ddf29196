import { type OrderState, paise } from '@rechargeflow/domain';
import type { AmountCount, ProviderSummary } from './order-store.ts';

type SummaryBucket = Exclude<keyof ProviderSummary, 'provider'>;

/** The bucket an order's state counts in, besides `submitted`. */
const BUCKET_OF_STATE: Readonly<Record<OrderState, SummaryBucket>> = {
  queued: 'inProgress',
  processing: 'inProgress',
  success: 'success',
  failed: 'failed',
  reversed: 'reversed',
  pending: 'pending',
  manual_review: 'pending',
};

/**
 * Folds (provider, state, count, amount) rows into per-provider summaries, sorted by provider, so
 * both stores categorise states in one place.
 */
export class SummaryBuilder {
  readonly #byProvider = new Map<string, Record<SummaryBucket, { count: number; amount: number }>>();

  add(provider: string, state: OrderState, count: number, amount: number): void {
    let summary = this.#byProvider.get(provider);
    if (summary === undefined) {
      summary = {
        submitted: { count: 0, amount: 0 },
        success: { count: 0, amount: 0 },
        failed: { count: 0, amount: 0 },
        reversed: { count: 0, amount: 0 },
        pending: { count: 0, amount: 0 },
        inProgress: { count: 0, amount: 0 },
      };
      this.#byProvider.set(provider, summary);
    }
    for (const bucket of ['submitted', BUCKET_OF_STATE[state]] as const) {
      summary[bucket].count += count;
      summary[bucket].amount += amount;
    }
  }

  build(): ProviderSummary[] {
    const total = (value: { count: number; amount: number }): AmountCount => ({
      count: value.count,
      amount: paise(value.amount),
    });
    return [...this.#byProvider.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([provider, b]) => ({
        provider,
        submitted: total(b.submitted),
        success: total(b.success),
        failed: total(b.failed),
        reversed: total(b.reversed),
        pending: total(b.pending),
        inProgress: total(b.inProgress),
      }));
  }
}
