import { type OrderKey, RechargeflowError } from '@rechargeflow/domain';

/**
 * The order id belongs to an order that retention archived and removed from the ledger: its
 * tombstone (the provider-order claim) still stands, so no new order is made under the id (it
 * would be sent with the archived order's provider orderid). Nothing was written.
 */
export class OrderArchivedError extends RechargeflowError {
  readonly clientId: string;
  readonly orderId: string;

  constructor(key: OrderKey) {
    super(
      `orderId ${key.orderId} belongs to an order that was archived (final and older than the retention window); use a new orderId`,
      { retryable: false, context: { orderId: key.orderId } },
    );
    this.clientId = key.clientId;
    this.orderId = key.orderId;
  }
}
