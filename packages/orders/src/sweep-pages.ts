import type { Order, OrderState } from '@rechargeflow/domain';
import type { OrderDeps } from './deps.ts';
import { ledgerCall, storeNow } from './ledger-calls.ts';

export interface SweepOptions {
  /** Orders whose last change is older than this (by the ledger's clock). */
  readonly olderThanMs: number;
  /** Orders read per page (1..1000). */
  readonly limit: number;
  /**
   * Stop paging after this long (the rest waits for the next sweep, which starts again from the
   * oldest). Default: no bound, every page.
   */
  readonly budgetMs?: number | undefined;
}

/**
 * Visits every order in `state` last changed more than `olderThanMs` ago by the ledger's clock, a
 * page at a time, however long the backlog: a stranded order behind a thousand older ones whose
 * jobs exist is still reached. Answers how many were visited.
 */
export async function forEachStale(
  deps: OrderDeps,
  state: OrderState,
  options: SweepOptions,
  visit: (order: Order) => Promise<void>,
): Promise<number> {
  const started = performance.now();
  const before = new Date((await storeNow(deps)).getTime() - options.olderThanMs).toISOString();
  let cursor: string | undefined;
  let visited = 0;
  do {
    const page = await ledgerCall(() => deps.ledger.scanStale(state, before, options.limit, cursor));
    for (const order of page.orders) {
      await visit(order);
      visited++;
    }
    cursor = page.nextCursor;
  } while (
    cursor !== undefined &&
    performance.now() - started < (options.budgetMs ?? Number.POSITIVE_INFINITY)
  );
  return visited;
}
