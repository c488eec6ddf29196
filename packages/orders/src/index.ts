export {
  applyCallback,
  type CallbackDeps,
  type CallbackResult,
  type CallbackSettings,
  DEFAULT_REVERSAL_CONFIRM_WINDOW_MS,
} from './apply-callback.ts';
export { CallbackRetryError } from './callback-retry-error.ts';
export {
  type CatalogDeps,
  OPEN_GATE,
  type OrderDeps,
  type OrderEvents,
  type OrderLog,
  type ProviderGate,
  type WorkerDeps,
} from './deps.ts';
export { LedgerUnavailableError } from './ledger-unavailable-error.ts';
export { NotSentRetryError } from './not-sent-retry-error.ts';
export { type OrderView, toOrderView } from './order-view.ts';
export { type JobRun, type ProcessOutcome, processRecharge } from './process-recharge.ts';
export { type ProviderReconciliation, type ReconciliationReport, reconcile } from './reconciliation.ts';
export { type RequeueSummary, requeueStranded } from './requeue-stranded.ts';
export { type ResolveOutcome, resolveOrder } from './resolve-order.ts';
export { type ReverseOutcome, reverseOrder } from './reverse-order.ts';
export {
  checkPendingOrder,
  runStatusChecks,
  type StatusCheckOutcome,
  type StatusCheckSettings,
} from './settle-by-status.ts';
export { DEFAULT_PROVIDER, type SubmitCommand, type SubmitOutcome, submitOrder } from './submit-order.ts';
export { sweepStuckProcessing } from './sweep-processing.ts';
