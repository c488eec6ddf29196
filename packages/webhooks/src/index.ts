export {
  type DeliverDeps,
  type DeliverOutcome,
  type DeliveryStore,
  deliverWebhook,
  type WebhookLog,
  type WebhookObserver,
} from './deliver.ts';
export { DeliveryRetryError } from './delivery-retry-error.ts';
export {
  addressRange,
  destinationRefusal,
  isPublicAddress,
  MAX_URL_BYTES,
  urlIssues,
} from './destination.ts';
export { DestinationRefusedError } from './destination-refused-error.ts';
export {
  announceAfterImport,
  announceBatchIfDone,
  DISPATCH_BATCH,
  type DispatchDeps,
  type DispatcherSettings,
  type DispatchRound,
  type DispatchStore,
  dispatchOutbox,
  type RunningDispatcher,
  startDispatcher,
} from './dispatcher.ts';
export { enqueueDeliveryNow } from './enqueue-delivery.ts';
export { ORDER_EVENT_TYPE, type WebhookEventBody } from './events.ts';
export { batchEventId, deliveryId, endpointSecret, newEndpointId, orderEventId } from './ids.ts';
export {
  DELIVERY_STRANDED_AFTER_MS,
  type DeliverySweep,
  type DeliverySweepDeps,
  type DeliverySweepOptions,
  requeueStrandedDeliveries,
} from './requeue-deliveries.ts';
export { WEBHOOK_BACKOFF, webhookRetryDelayMs, withinRetryWindow } from './retry-policy.ts';
export {
  type AttemptResult,
  createWebhookSender,
  MAX_ANSWER_BYTES,
  type SenderSettings,
  type WebhookSender,
} from './sender.ts';
export { EVENT_ID_HEADER, SIGNATURE_HEADER, signatureHeader, verifySignature } from './signing.ts';
export {
  startWebhookWorker,
  type WebhookWorker,
  type WebhookWorkerDeps,
  type WebhookWorkerSettings,
} from './webhook-worker.ts';
