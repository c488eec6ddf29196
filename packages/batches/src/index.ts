export {
  BATCH_VIEW_STATES,
  type BatchView,
  type BatchViewState,
  batchView,
  batchViewState,
} from './batch-view.ts';
export {
  BATCH_COLUMNS,
  type BatchColumn,
  type HeaderResult,
  parseHeader,
  REQUIRED_COLUMNS,
} from './columns.ts';
export { csvCell, csvLine, neutraliseCell } from './csv-text.ts';
export {
  DEFAULT_CHUNK_ROWS,
  DEFAULT_MAX_ROW_BYTES,
  DEFAULT_PIPELINE_DEPTH,
  type ImportDeps,
  type ImportLedger,
  type ImportOutcome,
  type ImportSettings,
  importBatch,
} from './import-batch.ts';
export {
  DEFAULT_UPLOAD_LEASE_MS,
  newBatchId,
  type StoredUpload,
  type StoreUploadInput,
  storeUpload,
  UPLOAD_CHUNK_BYTES,
  type UploadLimits,
} from './intake.ts';
export { OrderIdSet } from './order-id-set.ts';
export { MAX_REASON_CHARS, orderReason } from './order-reason.ts';
export {
  DEFAULT_RELEASE_BACKLOG,
  queueRelease,
  RELEASE_WAIT_MS,
  type RechargeJobSink,
  type ReleaseDeps,
  type ReleaseJobSink,
  type ReleaseLedger,
  type ReleaseOutcome,
  type ReleaseSettings,
  releaseBatch,
} from './release-batch.ts';
export { ReleaseWaitError } from './release-wait-error.ts';
export {
  NOT_READ,
  notReadReason,
  RESULT_COLUMNS,
  type ResultsCsvInput,
  writeResultsCsv,
} from './results-csv.ts';
export { MAX_CELL_CHARS, RowRules, type RowRulesOptions, type RowVerdict } from './row-rules.ts';
export { type UploadLimit, UploadLimitError } from './upload-limit-error.ts';
