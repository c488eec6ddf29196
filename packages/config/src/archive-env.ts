import { duration, optionalString } from './env.ts';

/**
 * Retention of the Redis ledger and its archive (docs/operations.md, "Retention and the archive").
 * The poller reads both (it runs the `ledger.retention` job); the API reads LEDGER_ARCHIVE_DIR to
 * answer for archived orders.
 */
export const archiveEnvShape = {
  /**
   * The audit window: a final order (success, failed, reversed) last changed longer ago than this is
   * archived and removed from the Redis ledger, and its id stays refused as long again (its
   * tombstone). 90d, 2160h, ... `0`: off, every order stays. Only with LEDGER_ARCHIVE_DIR, and never
   * on the MongoDB ledger (which keeps everything). At least 7d: once the tombstone is gone the same
   * order id makes a new order with the same provider orderid, so a short window would turn a client's
   * retry or a re-uploaded CSV into a second send; 7d is past every retry and confirmation window.
   */
  LEDGER_RETENTION: duration('90d', { allowZero: true, min: { ms: 7 * 86_400_000, text: '7d' } }),
  /**
   * Where archived orders go: gzip JSON-lines files, their sidecars and the lookup index. The poller
   * and the API must see the same directory (a shared volume). Unset: nothing is archived, and so
   * nothing is removed.
   */
  LEDGER_ARCHIVE_DIR: optionalString(),
};
