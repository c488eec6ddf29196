import type { OutboxEntry, WebhookEventType } from '@rechargeflow/ledger';

/** The event an order's final state is told as. */
export const ORDER_EVENT_TYPE: Readonly<Record<OutboxEntry['state'], WebhookEventType>> = {
  success: 'order.succeeded',
  failed: 'order.failed',
  reversed: 'order.reversed',
  manual_review: 'order.manual_review',
};

/**
 * The JSON every delivery POSTs: `data` is the order as `GET /v1/recharges/:id` shows it, or the
 * batch as `GET /v1/batches/:id` shows it, rendered when the attempt is made.
 */
export interface WebhookEventBody {
  readonly id: string;
  readonly type: WebhookEventType;
  /** When the event happened: the transition (order events) or the batch's completion. */
  readonly createdAt: string;
  readonly data: unknown;
}
