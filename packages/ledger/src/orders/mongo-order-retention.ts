import { LedgerConfigurationError } from '../ledger-errors.ts';
import type { OrderRetentionStore } from './order-retention.ts';

/**
 * The MongoDB ledger keeps every order (docs/operations.md, "Retention and the archive": an optional
 * TTL index or an export, set up by the operator): the archiver never runs against it, so removing
 * is refused and nothing is ever archived.
 */
export function createMongoOrderRetention(): OrderRetentionStore {
  return {
    async removeArchivedOrder() {
      throw new LedgerConfigurationError(
        'the MongoDB ledger keeps every order; retention (LEDGER_RETENTION) archives the Redis ledger only',
      );
    },
    async isArchived() {
      return false;
    },
  };
}
