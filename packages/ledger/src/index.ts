export type { ArchivedOrder } from './archive/archive-format.ts';
export {
  type FoundArchivedOrder,
  findArchived,
  listDataFiles,
  readArchiveFile,
} from './archive/archive-reader.ts';
export { type ArchiveReport, rebuildIndex, verifyArchive } from './archive/archive-verify.ts';
export { type RetentionJob, type RetentionJobOptions, retentionJob } from './archive/retention-job.ts';
export {
  RETENTION_EVERY_MS,
  type RetentionLedger,
  type RetentionOptions,
  type RetentionReport,
  runRetention,
} from './archive/retention-run.ts';
export type { BalanceSample, BalanceStore } from './balances/balance-store.ts';
export {
  type BatchOrder,
  type BatchOrderChunk,
  type BatchOrderResult,
  createBatchOrdersVia,
} from './batches/batch-orders.ts';
export {
  BATCH_STATES,
  type Batch,
  type BatchPatch,
  type BatchState,
  type BatchStore,
  type NewBatch,
  type RowResult,
  type UploadLease,
} from './batches/batch-store.ts';
export {
  MAX_BATCH_LIST_LIMIT,
  MAX_FIND_BATCHES_LIMIT,
  MAX_UPLOAD_CHUNK_BYTES,
} from './batches/batch-validation.ts';
export { callbackId, MAX_CALLBACK_LIMIT, normaliseCallbackStatus } from './callbacks/callback-record.ts';
export {
  CALLBACK_OUTCOMES,
  type CallbackInput,
  type CallbackOutcome,
  type CallbackRecord,
  type CallbackStore,
} from './callbacks/callback-store.ts';
export {
  LedgerConfigurationError,
  LedgerCorruptionError,
  ProviderOrderIdConflictError,
  UploadLeaseExpiredError,
  UploadQuotaError,
} from './ledger-errors.ts';
export type { LedgerStore } from './ledger-store.ts';
export type { MongoLedgerStoreOptions } from './mongo-ledger-store.ts';
export { loadMongoLedgerStore, type OpenLedger, type OpenLedgerOptions, openLedger } from './open-ledger.ts';
export { OrderArchivedError } from './orders/order-archived-error.ts';
export { MAX_CLAIM_LIMIT, MAX_STALE_LIMIT } from './orders/order-limits.ts';
export {
  ARCHIVABLE_STATES,
  type ArchivedOrderRef,
  type OrderRetentionStore,
  type RemoveArchivedCommand,
  type RemoveArchivedResult,
} from './orders/order-retention.ts';
export type {
  AmountCount,
  ClaimChecksOptions,
  CreateResult,
  ListOrdersQuery,
  NewOrder,
  OrderPage,
  OrderPatch,
  OrderStore,
  ProviderSummary,
  StateCount,
  TransitionCommand,
  TransitionResult,
} from './orders/order-store.ts';
export { FILTER_SCAN_BUDGET } from './orders/redis-order-queries.ts';
export { type CompactHashes, ensureCompactHashes, ORDER_HASH_VALUE_BYTES } from './redis/compact-hashes.ts';
export { createRedisLedgerStore, type RedisLedgerStoreOptions } from './redis-ledger-store.ts';
export { MAX_LIST_LIMIT } from './shared/cursors.ts';
export {
  DELIVERY_TTL_MS,
  MAX_ATTEMPT_BODY_CHARS,
  MAX_ATTEMPT_ERROR_CHARS,
  MAX_ATTEMPTS_KEPT,
  MAX_DELIVERY_PAGE,
  MAX_ENDPOINTS_CAP,
  MAX_OUTBOX_READ,
  MAX_PENDING_SCAN,
  MAX_WEBHOOK_ID_CHARS,
  MAX_WEBHOOK_URL_BYTES,
} from './webhooks/webhook-record.ts';
export {
  DELIVERY_STATES,
  type DeliveryAttempt,
  type DeliveryState,
  OUTBOX_STATES,
  type OutboxEntry,
  type OutboxState,
  type PendingDeliveriesPage,
  WEBHOOK_EVENT_TYPES,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEventType,
  type WebhookStore,
} from './webhooks/webhook-store.ts';
