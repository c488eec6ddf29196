export {
  BATCH_STATES,
  type Batch,
  type BatchPatch,
  type BatchState,
  type BatchStore,
  type NewBatch,
  type RowResult,
  type UploadLease,
} from './batch-store.ts';
export {
  LedgerConfigurationError,
  LedgerCorruptionError,
  ProviderOrderIdConflictError,
  UploadLeaseExpiredError,
  UploadQuotaError,
} from './ledger-errors.ts';
export type {
  AmountCount,
  BalanceSample,
  CallbackInput,
  CallbackOutcome,
  CallbackRecord,
  ClaimChecksOptions,
  CreateResult,
  LedgerStore,
  ListOrdersQuery,
  NewOrder,
  OrderPage,
  OrderPatch,
  ProviderSummary,
  StateCount,
  TransitionCommand,
  TransitionResult,
} from './ledger-store.ts';
export { CALLBACK_OUTCOMES } from './ledger-store.ts';
export {
  callbackId,
  MAX_BATCH_LIST_LIMIT,
  MAX_CALLBACK_LIMIT,
  MAX_CLAIM_LIMIT,
  MAX_FIND_BATCHES_LIMIT,
  MAX_LIST_LIMIT,
  MAX_STALE_LIMIT,
  MAX_UPLOAD_CHUNK_BYTES,
  normaliseCallbackStatus,
} from './ledger-support.ts';
export { createMongoLedgerStore, type MongoLedgerStoreOptions } from './mongo-ledger-store.ts';
export { type OpenLedger, type OpenLedgerOptions, openLedger } from './open-ledger.ts';
export { createRedisLedgerStore, type RedisLedgerStoreOptions } from './redis-ledger-store.ts';
