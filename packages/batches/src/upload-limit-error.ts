import { RechargeflowError } from '@rechargeflow/domain';

export type UploadLimit = 'bytes' | 'rows' | 'row_length' | 'empty' | 'pending_bytes';

/**
 * An upload refused while it was being stored: over a limit (HTTP 413, the limit named), with
 * no data row at all (`empty`, HTTP 400), or over the client's bytes not yet imported
 * (`pending_bytes`, HTTP 429). Nothing is created for it, and what it had stored is removed.
 */
export class UploadLimitError extends RechargeflowError {
  readonly limit: UploadLimit;
  /** The limit passed (bytes, rows, or bytes per row); 1 for `empty` (the fewest data rows). */
  readonly max: number;

  constructor(limit: UploadLimit, max: number, message: string) {
    super(message, { retryable: false, context: { limit, max } });
    this.limit = limit;
    this.max = max;
  }
}
