import type { Order, OrderKey } from '@rechargeflow/domain';
import { findArchived, type LedgerStore } from '@rechargeflow/ledger';

/**
 * Orders retention archived and removed from the ledger (docs/operations.md, "Retention and the
 * archive"): read back from LEDGER_ARCHIVE_DIR when this API sees it (one index shard and one
 * compressed member read), else known only by their tombstone in the ledger.
 */
export async function findArchivedOrder(
  deps: { readonly ledger: Pick<LedgerStore, 'isArchived'>; readonly archiveDir?: string | undefined },
  key: OrderKey,
): Promise<{ readonly order: Order } | 'archived' | null> {
  if (deps.archiveDir !== undefined) {
    const found = await findArchived(deps.archiveDir, key);
    if (found !== null) return found;
  }
  return (await deps.ledger.isArchived(key)) ? 'archived' : null;
}

export function archivedMessage(orderId: string): string {
  return `order ${orderId} was archived (final and older than the retention window) and the archive is not readable here; an operator finds it with npm run archive -- find`;
}
