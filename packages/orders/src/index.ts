export type { OrderDeps, OrderEvents, OrderLog, WorkerDeps } from './deps.ts';
export {
  type JobRun,
  LedgerUnavailableError,
  NotSentRetryError,
  type ProcessOutcome,
  processRecharge,
} from './process-recharge.ts';
export { type RequeueSummary, requeueStranded } from './requeue-stranded.ts';
export { DEFAULT_PROVIDER, type SubmitCommand, type SubmitOutcome, submitOrder } from './submit-order.ts';
