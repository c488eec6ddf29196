export interface BalanceSample {
  readonly provider: string;
  /** Paise, a whole number (below zero when a provider extends credit). */
  readonly balance: number;
  /** ISO time sampled. */
  readonly at: string;
}

/** Provider balance samples over time (reconciliation answers the balance at both ends of a window). */
export interface BalanceStore {
  /** Appends a sample (never replaces one, even one of the same time). */
  recordBalance(sample: BalanceSample): Promise<void>;
  /** The latest sample at or before `at` (of one millisecond's samples, the last recorded), else null. */
  balanceAt(provider: string, at: string): Promise<BalanceSample | null>;
}
